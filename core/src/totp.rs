//! Authenticator-app codes: RFC 6238 TOTP with SHA-1, 6 digits, 30-second steps, one step
//! of drift either way — what every authenticator app implements.
//!
//! totp-rs computes the codes; what is ours is the replay rule. A time step is accepted at
//! most once per user: the caller stores the last accepted step (the watermark) and only a
//! later step can succeed, so neither the same code nor an older unused one works again.

use base64::Engine as _;
use rand::RngCore as _;
use totp_rs::{Algorithm, Builder, Totp};

use crate::{CoreError, CoreResult, UnixTime};

pub const DIGITS: u8 = 6;
pub const STEP_SECS: u64 = 30;
/// Steps of clock drift accepted either side of now.
pub const SKEW_STEPS: i64 = 1;
pub const KEY_BYTES: usize = 20;

/// A user's TOTP key. Its bytes are only ever shown once (QR code and typed form) and
/// stored encrypted (see [`crate::secret_box`]); `Debug` does not print them.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpKey(Vec<u8>);

impl std::fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpKey(…)")
    }
}

impl TotpKey {
    /// 160 random bits from the operating system.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        TotpKey(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> CoreResult<Self> {
        if bytes.len() < 16 {
            return Err(CoreError::Internal("TOTP key shorter than 128 bits".into()));
        }
        Ok(TotpKey(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key in base32, as authenticator apps take it.
    pub fn base32(&self) -> String {
        totp_rs::Secret::from(self.0.clone()).to_base32()
    }

    /// The base32 key in groups of four, for typing it in by hand.
    pub fn grouped(&self) -> String {
        let b32 = self.base32();
        b32.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn totp(&self, issuer: &str, account: &str) -> CoreResult<Totp> {
        // ':' separates issuer and account in otpauth URIs, so it cannot appear in either.
        let clean = |s: &str| s.replace(':', " ").trim().to_string();
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_step_duration(STEP_SECS)
            .with_skew(0)
            .with_secret(self.0.clone())
            .with_issuer(Some(clean(issuer)))
            .with_account_name(clean(account))
            .build()
            .map_err(|e| CoreError::Internal(format!("TOTP: {e}")))
    }

    /// The `otpauth://totp/…` URI an authenticator app scans.
    pub fn otpauth_url(&self, issuer: &str, account: &str) -> CoreResult<String> {
        self.totp(issuer, account)?
            .to_url()
            .map_err(|e| CoreError::Internal(format!("TOTP URI: {e}")))
    }

    /// The same URI as a QR code, a PNG in base64 (for a `data:` image).
    pub fn qr_png_base64(&self, issuer: &str, account: &str) -> CoreResult<String> {
        let png = self
            .totp(issuer, account)?
            .to_qr_png()
            .map_err(|e| CoreError::Internal(format!("QR code: {e}")))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(png))
    }

    /// The code for the step containing `at` (for tests and the confirmation step).
    pub fn code_at(&self, at: UnixTime) -> CoreResult<String> {
        Ok(self
            .totp("Tessera", "")?
            .generate(at.max(0) as u64)
            .to_string())
    }

    /// The time step `code` belongs to, if it matches a step within the drift window around
    /// `now` that is later than `watermark` (the last step this user had accepted).
    pub fn accept(&self, code: &str, now: UnixTime, watermark: i64) -> Option<i64> {
        let code = normalise_code(code)?;
        let totp = self.totp("Tessera", "").ok()?;
        let now_step = now.max(0) / STEP_SECS as i64;
        (now_step - SKEW_STEPS..=now_step + SKEW_STEPS)
            .filter(|step| *step > watermark && *step >= 0)
            .find(|step| totp.check(&code, *step as u64 * STEP_SECS).is_some())
    }
}

/// What the user typed, as six digits: spaces and dashes are allowed ("123 456").
pub fn normalise_code(input: &str) -> Option<String> {
    if input.len() > 32 {
        return None;
    }
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (digits.len() == DIGITS as usize && digits.chars().all(|c| c.is_ascii_digit()))
        .then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_totp(algorithm: Algorithm, seed: &[u8], digits: u8, step: u64) -> Totp {
        Builder::new()
            .with_algorithm(algorithm)
            .with_digits(digits)
            .with_step_duration(step)
            .with_skew(0)
            .with_secret(seed.to_vec())
            .build()
            .unwrap()
    }

    /// RFC 6238 Appendix B, with each algorithm's own seed (errata 2866).
    #[test]
    fn rfc6238_appendix_b() {
        let sha1 = b"12345678901234567890".as_slice();
        let sha256 = b"12345678901234567890123456789012".as_slice();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".as_slice();
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (time, expect1, expect256, expect512) in table {
            let at = |alg, seed| rfc_totp(alg, seed, 8, 30).generate(time).to_string();
            assert_eq!(at(Algorithm::SHA1, sha1), expect1, "SHA1 at {time}");
            assert_eq!(at(Algorithm::SHA256, sha256), expect256, "SHA256 at {time}");
            assert_eq!(at(Algorithm::SHA512, sha512), expect512, "SHA512 at {time}");
        }
    }

    /// RFC 4226 Appendix D: HOTP is TOTP with a one-second step and time = counter.
    #[test]
    fn rfc4226_appendix_d() {
        let hotp = rfc_totp(Algorithm::SHA1, b"12345678901234567890", 6, 1);
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(
                hotp.generate(counter as u64).to_string(),
                *code,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let key = TotpKey::generate();
        let now: i64 = 1_800_000_015;
        let code = |offset_steps: i64| key.code_at(now + offset_steps * 30).unwrap();
        for ok in [-1, 0, 1] {
            assert!(
                key.accept(&code(ok), now, 0).is_some(),
                "step T{ok:+} refused"
            );
        }
        for bad in [-2, 2] {
            assert!(
                key.accept(&code(bad), now, 0).is_none(),
                "step T{bad:+} accepted"
            );
        }
    }

    #[test]
    fn a_step_is_accepted_once_and_older_steps_never_after_it() {
        let key = TotpKey::generate();
        let now: i64 = 1_800_000_015;
        let step = key.accept(&key.code_at(now).unwrap(), now, 0).unwrap();
        assert!(
            key.accept(&key.code_at(now).unwrap(), now, step).is_none(),
            "replayed"
        );
        assert!(
            key.accept(&key.code_at(now - 30).unwrap(), now, step)
                .is_none(),
            "older step"
        );
        assert!(
            key.accept(&key.code_at(now + 30).unwrap(), now, step)
                .is_some(),
            "later step"
        );
    }

    #[test]
    fn typed_codes_are_normalised_and_junk_refused() {
        assert_eq!(normalise_code("123 456").as_deref(), Some("123456"));
        assert_eq!(normalise_code("123-456").as_deref(), Some("123456"));
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "+12345",
            "١٢٣٤٥٦",
            &"1".repeat(10_000),
        ] {
            assert_eq!(normalise_code(bad), None, "{bad:.20}");
        }
    }

    #[test]
    fn keys_are_160_random_bits_and_grouped_for_typing() {
        let key = TotpKey::generate();
        assert_eq!(key.as_bytes().len(), 20);
        assert_ne!(key, TotpKey::generate());
        assert_eq!(key.base32().len(), 32);
        assert_eq!(key.grouped().split(' ').count(), 8);
        assert!(!format!("{key:?}").contains(&key.base32()));
        let url = key
            .otpauth_url("Riverside: Clinic", "ann@clinic.org")
            .unwrap();
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains(&format!("secret={}", key.base32())), "{url}");
        assert!(key
            .qr_png_base64("Riverside", "ann@clinic.org")
            .unwrap()
            .starts_with("iVBORw0KGgo"));
    }
}
