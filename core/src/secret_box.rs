//! Encryption at rest for secrets the server must read back (TOTP keys).
//!
//! XChaCha20-Poly1305 with a 256-bit server key that never enters the database: generated
//! into the data folder on first run (file mode 0600) or given in configuration. Each
//! ciphertext is bound to its owner (associated data = the user's id), so a row copied
//! onto another account does not decrypt.

use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;

use crate::{CoreError, CoreResult};

const VERSION: &str = "v1";

#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(…)")
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl ServerKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        ServerKey(key)
    }

    /// A key for another purpose derived from this one (HMAC-SHA256 of the purpose's
    /// name), so no two uses share a key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac as _;
        let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.0) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A key given as base64 (e.g. `TESSERA_SECRET_KEY`).
    pub fn from_base64(text: &str) -> CoreResult<Self> {
        let bytes = b64()
            .decode(text.trim())
            .map_err(|_| CoreError::invalid("secret_key", "The secret key is not valid base64."))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CoreError::invalid("secret_key", "The secret key must be 32 bytes."))?;
        Ok(ServerKey(key))
    }

    /// The key as base64: what `TESSERA_SECRET_KEY` takes.
    pub fn to_base64(&self) -> String {
        b64().encode(self.0)
    }

    /// Reads the key file, or creates it (readable by the owner only) if missing.
    pub fn load_or_create(path: &Path) -> CoreResult<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                write_private(path, &b64().encode(key.0)).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// `v1:<base64 of nonce ‖ ciphertext>`, bound to `owner`.
    pub fn seal(&self, plaintext: &[u8], owner: &str) -> CoreResult<String> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| CoreError::Internal("a secret could not be encrypted".into()))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!("{VERSION}:{}", b64().encode(out)))
    }

    pub fn open(&self, sealed: &str, owner: &str) -> CoreResult<Vec<u8>> {
        let broken = || {
            CoreError::Internal("a stored secret could not be decrypted (wrong server key?)".into())
        };
        let body = sealed.strip_prefix("v1:").ok_or_else(broken)?;
        let bytes = b64().decode(body).map_err(|_| broken())?;
        if bytes.len() < 24 + 16 {
            return Err(broken());
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        XChaCha20Poly1305::new((&self.0).into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| broken())
    }
}

fn io(e: std::io::Error) -> CoreError {
    CoreError::Unavailable(format!("server key file: {e}"))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bound_to_the_owner() {
        let key = ServerKey::generate();
        let sealed = key.seal(b"totp key bytes", "user-a").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("totp"));
        assert_eq!(key.open(&sealed, "user-a").unwrap(), b"totp key bytes");
        assert!(
            key.open(&sealed, "user-b").is_err(),
            "a row moved to another user"
        );
        assert!(
            ServerKey::generate().open(&sealed, "user-a").is_err(),
            "another server key"
        );
        assert_ne!(
            sealed,
            key.seal(b"totp key bytes", "user-a").unwrap(),
            "fresh nonce each time"
        );
    }

    #[test]
    fn key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let first = ServerKey::load_or_create(&path).unwrap();
        let second = ServerKey::load_or_create(&path).unwrap();
        assert_eq!(first.0, second.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(ServerKey::from_base64("not base64!").is_err());
        assert!(ServerKey::from_base64(&b64().encode([0u8; 16])).is_err());
    }
}
