//! Password rules and hashing.
//!
//! Rules follow NIST SP 800-63B: 8 to 1000 characters, any characters, no composition
//! rules, no truncation, and a refusal (with the reason) for common passwords, the
//! user's own email and the organisation's name.
//!
//! Hashing is argon2id with at least m=19456 KiB, t=2, p=1. It runs on the blocking pool,
//! never on the async runtime, behind a semaphore so a burst of sign-ins queues instead of
//! exhausting memory. An unknown email is verified against a dummy hash of the same cost,
//! so it takes as long as a known one.
//!
//! Passwords are Unicode-normalised (NFKC) before they are checked or hashed, as 800-63B
//! asks: "é" typed as one code point or as "e" plus an accent is the same password, on any
//! keyboard or operating system. Hashes made before normalisation still verify against
//! the raw form and are replaced by the normalised one at the next success.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization as _;

use crate::{CoreError, CoreResult};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1000;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
});

/// Checks a new password against the policy. `email` and `organisation` are refused as
/// passwords (case-insensitively), as are the shipped common passwords.
pub fn check_new_password(password: &str, email: &str, organisation: &str) -> CoreResult<()> {
    let password = normalise(password);
    let length = password.chars().count();
    let refuse = |msg: String| Err(CoreError::invalid("password", msg));
    if length < MIN_LEN {
        return refuse(format!("Use at least {MIN_LEN} characters."));
    }
    if length > MAX_LEN {
        return refuse(format!("Use at most {MAX_LEN} characters."));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return refuse(
            "That password is on a list of commonly used passwords. Choose something less \
             predictable, such as a few unrelated words."
                .into(),
        );
    }
    let lower_email = email.trim().to_lowercase();
    let local_part = lower_email.split('@').next().unwrap_or_default();
    if lower == lower_email || (!local_part.is_empty() && lower == local_part) {
        return refuse("Your password cannot be your email address.".into());
    }
    if !organisation.trim().is_empty() && lower == organisation.trim().to_lowercase() {
        return refuse("Your password cannot be the organisation's name.".into());
    }
    if lower.chars().all(|c| lower.starts_with(c)) {
        return refuse("A password cannot be one character repeated.".into());
    }
    Ok(())
}

/// A password as it is checked and hashed: NFKC, so every way of typing the same
/// characters is the same password.
pub fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

/// The argon2 cost. Production uses [`HashCost::standard`]; tests may use the minimum so
/// a suite of sign-ins stays fast (Kanidm's `danger_test_minimum` idea).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl HashCost {
    pub const fn standard() -> Self {
        HashCost {
            memory_kib: 19_456,
            iterations: 2,
        }
    }

    pub const fn danger_test_minimum() -> Self {
        HashCost {
            memory_kib: 64,
            iterations: 1,
        }
    }

    fn argon2(self) -> CoreResult<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None)
            .map_err(|e| CoreError::Internal(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes and verifies passwords off the async runtime, a bounded number at a time.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: HashCost,
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<String>,
}

/// What verifying a stored hash found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored with weaker parameters than today's: store this new hash.
    YesRehashed(String),
}

impl PasswordHasher {
    /// `max_concurrent` bounds memory: each hash holds `memory_kib` while it runs.
    pub fn new(cost: HashCost, max_concurrent: usize) -> CoreResult<Self> {
        let argon2 = cost.argon2()?;
        let dummy_hash = hash_blocking(&argon2, "tessera-dummy-password-for-timing")?;
        Ok(PasswordHasher {
            cost,
            argon2,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    /// Hashes the normalised form of `password` (for secrets that are already ASCII, such
    /// as backup codes, normalising changes nothing).
    pub async fn hash(&self, password: &str) -> CoreResult<String> {
        let argon2 = self.argon2.clone();
        let password = normalise(password);
        self.run(move || hash_blocking(&argon2, &password)).await?
    }

    /// Verifies `password` against `stored`, or against a dummy hash of equal cost when
    /// the account does not exist (so both take the same time). A `None` never verifies.
    ///
    /// The normalised form is checked; when the typed form differs, it is checked too (a
    /// hash from before normalisation), and on success the normalised hash replaces it.
    /// Both forms are always checked when they differ, whatever the first answer, so the
    /// time taken says nothing about which matched or whether the account exists.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> CoreResult<Verified> {
        let (cost, argon2) = (self.cost, self.argon2.clone());
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        let normalised = normalise(password);
        let typed = (normalised != password).then(|| password.to_owned());
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Ok(Verified::No);
            };
            let matches = |candidate: &str| {
                parsed.algorithm.as_str() == "argon2id"
                    && argon2
                        .verify_password(candidate.as_bytes(), &parsed)
                        .is_ok()
            };
            let normalised_ok = matches(&normalised);
            let typed_ok = typed.as_deref().is_some_and(matches);
            if !known || !(normalised_ok || typed_ok) {
                return Ok(Verified::No);
            }
            Ok(if !normalised_ok || weaker_than(&parsed, cost) {
                Verified::YesRehashed(hash_blocking(&argon2, &normalised)?)
            } else {
                Verified::Yes
            })
        })
        .await?
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> CoreResult<T> {
        let queued = std::time::Instant::now();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        crate::metrics::hash_queue_wait(queued.elapsed());
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| CoreError::Internal(format!("password hashing task failed: {e}")))
    }
}

fn hash_blocking(argon2: &Argon2<'static>, password: &str) -> CoreResult<String> {
    argon2
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| CoreError::Internal(format!("argon2 hashing failed: {e}")))
}

fn weaker_than(parsed: &PasswordHash, cost: HashCost) -> bool {
    let param = |name: &str| parsed.params.get_decimal(name).unwrap_or(0);
    param("m") < cost.memory_kib || param("t") < cost.iterations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limits() {
        assert!(check_new_password("seven77", "a@b.org", "Clinic").is_err());
        assert!(check_new_password("eight888", "a@b.org", "Clinic").is_ok());
        assert!(check_new_password(&"long passphrase ".repeat(4), "a@b.org", "Clinic").is_ok());
        assert!(check_new_password(&"x1".repeat(500), "a@b.org", "Clinic").is_ok());
        assert!(check_new_password(&"x1".repeat(501), "a@b.org", "Clinic").is_err());
    }

    #[test]
    fn unicode_counts_characters_not_bytes() {
        // Eight characters, many more bytes.
        assert!(check_new_password("пароль🔑ß", "a@b.org", "Clinic").is_ok());
        assert!(check_new_password("🔑🔑🔑🔑🔑🔑🔒", "a@b.org", "Clinic").is_err());
        // 7 chars
    }

    #[test]
    fn common_passwords_email_and_organisation_are_refused_with_a_reason() {
        let err = check_new_password("Password1", "a@b.org", "Clinic").unwrap_err();
        assert!(err.to_string().contains("commonly used"), "{err}");
        assert!(check_new_password("qwertyuiop", "a@b.org", "Clinic").is_err());
        let err = check_new_password("Ann@Clinic.org", "ann@clinic.org", "Clinic").unwrap_err();
        assert!(err.to_string().contains("email"), "{err}");
        let err =
            check_new_password("Riverside Health", "a@b.org", "Riverside Health").unwrap_err();
        assert!(err.to_string().contains("organisation"), "{err}");
        assert!(check_new_password("zzzzzzzzzz", "a@b.org", "Clinic").is_err());
    }

    #[test]
    fn no_composition_rules() {
        assert!(check_new_password("correct horse battery staple", "a@b.org", "C").is_ok());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_and_verify_without_truncation() {
        let hasher = PasswordHasher::new(HashCost::standard(), 2).unwrap();
        let password = "p".repeat(99) + "!";
        let hash = hasher.hash(&password).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            hasher.verify(&password, Some(&hash)).await.unwrap(),
            Verified::Yes
        );
        let changed_last = "p".repeat(99) + "?";
        assert_eq!(
            hasher.verify(&changed_last, Some(&hash)).await.unwrap(),
            Verified::No
        );
        // Salts are unique.
        assert_ne!(hash, hasher.hash(&password).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_accounts_never_verify() {
        let hasher = PasswordHasher::new(HashCost::danger_test_minimum(), 2).unwrap();
        let any = "tessera-dummy-password-for-timing";
        assert_eq!(hasher.verify(any, None).await.unwrap(), Verified::No);
    }

    /// "é" as one code point (NFC) and as "e" + combining accent (NFD) are one password.
    #[tokio::test]
    async fn passwords_are_unicode_normalised() {
        let hasher = PasswordHasher::new(HashCost::danger_test_minimum(), 2).unwrap();
        let nfc = "caf\u{e9} au lait, s'il vous pla\u{ee}t";
        let nfd = "cafe\u{301} au lait, s'il vous plai\u{302}t";
        assert_ne!(nfc, nfd);
        let hash = hasher.hash(nfc).await.unwrap();
        assert_eq!(
            hasher.verify(nfd, Some(&hash)).await.unwrap(),
            Verified::Yes
        );
        assert_eq!(
            hasher.verify(nfc, Some(&hash)).await.unwrap(),
            Verified::Yes
        );
        assert_eq!(
            hasher
                .verify("cafe au lait, s'il vous plait", Some(&hash))
                .await
                .unwrap(),
            Verified::No
        );
        // The policy counts characters of the normalised form: five accented letters
        // typed decomposed are five characters, not ten.
        assert!(check_new_password("e\u{301}e\u{301}e\u{301}e\u{301}", "a@b.org", "C").is_err());
    }

    /// A hash made from the typed (unnormalised) form before normalisation existed still
    /// verifies, and is replaced by the hash of the normalised form.
    #[tokio::test]
    async fn hashes_of_unnormalised_passwords_are_upgraded() {
        let hasher = PasswordHasher::new(HashCost::danger_test_minimum(), 2).unwrap();
        let nfd = "cafe\u{301} au lait";
        let legacy =
            hash_blocking(&HashCost::danger_test_minimum().argon2().unwrap(), nfd).unwrap();
        let Verified::YesRehashed(upgraded) = hasher.verify(nfd, Some(&legacy)).await.unwrap()
        else {
            panic!("expected the normalised hash to replace the legacy one");
        };
        assert_eq!(
            hasher
                .verify("caf\u{e9} au lait", Some(&upgraded))
                .await
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(
            hasher
                .verify("caf\u{e9} au lait", Some(&legacy))
                .await
                .unwrap(),
            Verified::No,
            "the legacy hash only knew the typed form"
        );
    }

    #[tokio::test]
    async fn weaker_hashes_are_upgraded_on_success() {
        let weak = PasswordHasher::new(HashCost::danger_test_minimum(), 1).unwrap();
        let strong = PasswordHasher::new(HashCost::standard(), 1).unwrap();
        let hash = weak.hash("a fine passphrase").await.unwrap();
        match strong
            .verify("a fine passphrase", Some(&hash))
            .await
            .unwrap()
        {
            Verified::YesRehashed(new) => assert!(new.contains("m=19456,t=2,p=1"), "{new}"),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }
}
