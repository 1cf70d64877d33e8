//! Backup codes: ten single-use codes, shown once, stored only as slow salted hashes.
//!
//! A code is 16 characters of Crockford base32 (80 random bits), shown in groups of four
//! to read aloud: `7K3M-Q9XD-2HPW-4ZRT`. The first group is a lookup tag stored in the
//! clear so only one hash is checked per attempt; the whole code is hashed with argon2id.
//! Redemption is one conditional UPDATE, so two uses of the same code cannot both win.

use rand::RngCore as _;

/// Codes issued at a time.
pub const COUNT: usize = 10;
/// A warning is shown at this many unused codes or fewer.
pub const LOW: i64 = 3;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LEN: usize = 16;
const LOOKUP_LEN: usize = 4;

/// A code as typed or issued, normalised to 16 characters of the alphabet.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupCode(String);

impl std::fmt::Debug for BackupCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupCode({}-…)", self.lookup())
    }
}

impl BackupCode {
    /// 80 bits from the operating system's RNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 10];
        rand::rng().fill_bytes(&mut bytes);
        let mut bits: u128 = 0;
        for b in bytes {
            bits = (bits << 8) | b as u128;
        }
        let code = (0..LEN)
            .rev()
            .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
            .collect();
        BackupCode(code)
    }

    /// Reads what a person typed: case, spaces and dashes do not matter, and the letters
    /// people confuse with digits (O, I, L) are read as the digits (Crockford's rule).
    pub fn parse(input: &str) -> Option<Self> {
        if input.len() > 64 {
            return None;
        }
        let mut code = String::with_capacity(LEN);
        for c in input.chars() {
            let c = match c.to_ascii_uppercase() {
                ' ' | '-' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => return None,
            };
            code.push(c);
        }
        (code.len() == LEN).then_some(BackupCode(code))
    }

    /// The part stored in the clear to find the row.
    pub fn lookup(&self) -> &str {
        &self.0[..LOOKUP_LEN]
    }

    /// The whole code, the input to the hash.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// `XXXX-XXXX-XXXX-XXXX`, as shown to the user.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// A fresh set of codes with distinct lookup tags.
pub fn generate_set() -> Vec<BackupCode> {
    let mut codes: Vec<BackupCode> = Vec::with_capacity(COUNT);
    while codes.len() < COUNT {
        let code = BackupCode::generate();
        if codes.iter().all(|c| c.lookup() != code.lookup()) {
            codes.push(code);
        }
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_80_bits_in_four_groups() {
        let code = BackupCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.split('-').count(), 4);
        assert!(shown
            .chars()
            .all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        // 16 symbols of 5 bits each.
        assert!((LEN * 5) as u32 >= 64);
        assert_ne!(code, BackupCode::generate());
    }

    #[test]
    fn typed_codes_are_forgiving_but_exact() {
        let code = BackupCode::parse("7K3M-Q9XD-2HPW-4ZRT").unwrap();
        assert_eq!(
            BackupCode::parse(" 7k3m q9xd 2hpw 4zrt "),
            Some(code.clone())
        );
        assert_eq!(
            BackupCode::parse("7K3M-Q9XD-2HPW-4ZRT").unwrap().lookup(),
            "7K3M"
        );
        assert_eq!(
            BackupCode::parse("OI00-0000-0000-0000"),
            BackupCode::parse("0100-0000-0000-0000")
        );
        for bad in [
            "",
            "7K3M-Q9XD-2HPW",
            "7K3M-Q9XD-2HPW-4ZRTX",
            "7K3M-Q9XD-2HPW-4ZRU",
            "'; DROP TABLE--",
        ] {
            assert_eq!(BackupCode::parse(bad), None, "{bad}");
        }
        assert_eq!(BackupCode::parse(&"A".repeat(10_000)), None);
    }

    #[test]
    fn a_set_is_ten_with_distinct_lookups() {
        let set = generate_set();
        assert_eq!(set.len(), COUNT);
        let mut lookups: Vec<_> = set.iter().map(|c| c.lookup().to_string()).collect();
        lookups.sort();
        lookups.dedup();
        assert_eq!(lookups.len(), COUNT);
        assert!(!format!("{:?}", set[0]).contains(set[0].secret()));
    }
}
