//! The keys ID tokens are signed with: RS256 (which every OpenID Connect client must be
//! offered) and ES256 (for apps that ask for it). Each is kept in the database as PKCS#8,
//! sealed with the server key, and named by its RFC 7638 thumbprint. ring signs (in
//! constant time); `rsa` only generates the RSA key, which ring cannot.
//!
//! One key per algorithm is active. Rotation retires it and makes a new one; a retired key
//! stays published in the JWKS for [`RETIRED_KEYS_PUBLISHED_SECS`], longer than any token
//! it signed lives, and is then deleted.

use base64::Engine as _;
use openidconnect::core::{CoreJsonCurveType, CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKeyId, PrivateSigningKey, SigningError};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use sha2::{Digest as _, Sha256};
use sqlx::{AnyConnection, Row};

use crate::secret_box::ServerKey;
use crate::{CoreError, CoreResult, UnixTime};

/// How long a retired key stays in the JWKS: a day, far beyond an ID token's life.
pub const RETIRED_KEYS_PUBLISHED_SECS: i64 = 24 * 3600;
const RSA_BITS: usize = 2048;

/// The signing algorithms an app may choose for its ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::Rs256, Alg::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> CoreResult<Alg> {
        match s {
            "RS256" => Ok(Alg::Rs256),
            "ES256" => Ok(Alg::Es256),
            other => Err(CoreError::invalid(
                "id_token_alg",
                format!("Unknown signing algorithm \"{other}\": use RS256 or ES256."),
            )),
        }
    }

    pub fn jws(self) -> CoreJwsSigningAlgorithm {
        match self {
            Alg::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Alg::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        }
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private signing key, ready to sign. Plugs into `openidconnect`'s token types, which
/// assemble and encode the JWT.
pub struct SigningKey {
    pair: Pair,
    jwk: CoreJsonWebKey,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.kid)
    }
}

impl SigningKey {
    /// Makes a new key: PKCS#8 DER.
    pub fn generate(alg: Alg) -> CoreResult<Vec<u8>> {
        match alg {
            Alg::Es256 => EcdsaKeyPair::generate_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| CoreError::Internal("could not generate an EC key".into())),
            Alg::Rs256 => {
                use rsa::pkcs8::EncodePrivateKey as _;
                let key = rsa::RsaPrivateKey::new(&mut rand_core_06::OsRng, RSA_BITS)
                    .map_err(|e| CoreError::Internal(format!("RSA key generation: {e}")))?;
                key.to_pkcs8_der()
                    .map(|doc| doc.as_bytes().to_vec())
                    .map_err(|e| CoreError::Internal(format!("RSA key encoding: {e}")))
            }
        }
    }

    pub fn from_pkcs8(alg: Alg, der: &[u8]) -> CoreResult<SigningKey> {
        let bad = |e: ring::error::KeyRejected| CoreError::Internal(format!("signing key: {e}"));
        let (pair, jwk, kid) = match alg {
            Alg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(bad)?;
                let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                let kid = thumbprint_rsa(&public.n, &public.e);
                let jwk = CoreJsonWebKey::new_rsa(
                    public.n,
                    public.e,
                    Some(JsonWebKeyId::new(kid.clone())),
                );
                (Pair::Rsa(pair), jwk, kid)
            }
            Alg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &SystemRandom::new(),
                )
                .map_err(bad)?;
                // Uncompressed point: 0x04 ‖ x ‖ y.
                let point = pair.public_key().as_ref();
                let (x, y) = (point[1..33].to_vec(), point[33..65].to_vec());
                let kid = thumbprint_ec(&x, &y);
                let jwk = CoreJsonWebKey::new_ec(
                    x,
                    y,
                    CoreJsonCurveType::P256,
                    Some(JsonWebKeyId::new(kid.clone())),
                );
                (Pair::Ec(pair), jwk, kid)
            }
        };
        Ok(SigningKey { pair, jwk, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_jwk(&self) -> &CoreJsonWebKey {
        &self.jwk
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace.
fn thumbprint_rsa(n: &[u8], e: &[u8]) -> String {
    let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n));
    b64(&Sha256::digest(canonical.as_bytes()))
}

fn thumbprint_ec(x: &[u8], y: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        b64(x),
        b64(y)
    );
    b64(&Sha256::digest(canonical.as_bytes()))
}

impl PrivateSigningKey for SigningKey {
    type VerificationKey = CoreJsonWebKey;

    fn sign(&self, alg: &CoreJwsSigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        let rng = SystemRandom::new();
        match (&self.pair, alg) {
            (Pair::Rsa(pair), CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| SigningError::CryptoError)?;
                Ok(signature)
            }
            (Pair::Ec(pair), CoreJwsSigningAlgorithm::EcdsaP256Sha256) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SigningError::CryptoError),
            _ => Err(SigningError::UnsupportedAlg(format!("{alg:?}"))),
        }
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        self.jwk.clone()
    }
}

fn owner(kid: &str) -> String {
    format!("oidc-key:{kid}")
}

/// The active key for `alg`, made (and stored) if there is none yet. Two instances making
/// one at once: the partial unique index keeps one, and the loser reads the winner's.
pub async fn active(
    db: &crate::db::Db,
    server_key: &ServerKey,
    alg: Alg,
    now: UnixTime,
) -> CoreResult<SigningKey> {
    let mut conn = db.pool().acquire().await?;
    if let Some(key) = load_active(&mut conn, server_key, alg).await? {
        return Ok(key);
    }
    drop(conn);
    let der = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))??;
    let key = SigningKey::from_pkcs8(alg, &der)?;
    let mut tx = db.write().await?;
    insert(&mut tx, server_key, alg, &key, &der, now).await?;
    tx.commit().await?;
    let mut conn = db.pool().acquire().await?;
    load_active(&mut conn, server_key, alg)
        .await?
        .ok_or_else(|| CoreError::Internal("no active signing key after making one".into()))
}

async fn insert(
    conn: &mut AnyConnection,
    server_key: &ServerKey,
    alg: Alg,
    key: &SigningKey,
    der: &[u8],
    now: UnixTime,
) -> CoreResult<()> {
    let public =
        serde_json::to_string(key.public_jwk()).map_err(|e| CoreError::Internal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO oidc_keys (kid, alg, sealed, public_jwk, state, created_at) \
         VALUES ($1, $2, $3, $4, 'active', $5) ON CONFLICT DO NOTHING",
    )
    .bind(key.kid())
    .bind(alg.as_str())
    .bind(server_key.seal(der, &owner(key.kid()))?)
    .bind(public)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

async fn load_active(
    conn: &mut AnyConnection,
    server_key: &ServerKey,
    alg: Alg,
) -> CoreResult<Option<SigningKey>> {
    let row = sqlx::query("SELECT kid, sealed FROM oidc_keys WHERE alg = $1 AND state = 'active'")
        .bind(alg.as_str())
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let kid: String = row.try_get("kid")?;
    let der = server_key.open(&row.try_get::<String, _>("sealed")?, &owner(&kid))?;
    SigningKey::from_pkcs8(alg, &der).map(Some)
}

/// Every key a client may meet: the active ones and those retired recently.
pub async fn published(conn: &mut AnyConnection, now: UnixTime) -> CoreResult<Vec<CoreJsonWebKey>> {
    let rows = sqlx::query(
        "SELECT public_jwk FROM oidc_keys WHERE state = 'active' OR retired_at > $1 ORDER BY created_at DESC, kid",
    )
    .bind(now - RETIRED_KEYS_PUBLISHED_SECS)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.try_get::<String, _>("public_jwk")?)
                .map_err(|e| CoreError::Internal(e.to_string()))
        })
        .collect()
}

/// New keys, one per algorithm, made (off the async threads) before the transaction that
/// stores them.
pub struct NewKeys(Vec<(Alg, Vec<u8>, SigningKey)>);

impl NewKeys {
    pub async fn generate() -> CoreResult<NewKeys> {
        let mut made = Vec::new();
        for alg in Alg::ALL {
            let der = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
                .await
                .map_err(|e| CoreError::Internal(e.to_string()))??;
            let key = SigningKey::from_pkcs8(alg, &der)?;
            made.push((alg, der, key));
        }
        Ok(NewKeys(made))
    }
}

/// Retires every active key and stores `new` as the active ones; keys retired longer ago
/// than they are published are deleted. Returns the new key ids.
pub async fn rotate(
    conn: &mut AnyConnection,
    server_key: &ServerKey,
    new: NewKeys,
    now: UnixTime,
) -> CoreResult<Vec<(Alg, String)>> {
    sqlx::query("UPDATE oidc_keys SET state = 'retired', retired_at = $1 WHERE state = 'active'")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM oidc_keys WHERE state = 'retired' AND retired_at <= $1")
        .bind(now - RETIRED_KEYS_PUBLISHED_SECS)
        .execute(&mut *conn)
        .await?;
    let mut ids = Vec::new();
    for (alg, der, key) in new.0 {
        insert(&mut *conn, server_key, alg, &key, &der, now).await?;
        ids.push((alg, key.kid));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sign_what_their_public_half_verifies() {
        for alg in Alg::ALL {
            let der = SigningKey::generate(alg).unwrap();
            let key = SigningKey::from_pkcs8(alg, &der).unwrap();
            let message = b"header.payload";
            let sig = key.sign(&alg.jws(), message).unwrap();
            let jwk = serde_json::to_value(key.public_jwk()).unwrap();
            assert_eq!(jwk["kid"], key.kid());
            let verified = match alg {
                Alg::Rs256 => {
                    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(jwk["n"].as_str().unwrap())
                        .unwrap();
                    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(jwk["e"].as_str().unwrap())
                        .unwrap();
                    signature::RsaPublicKeyComponents { n, e }
                        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, &sig)
                        .is_ok()
                }
                Alg::Es256 => {
                    let mut point = vec![4u8];
                    for c in ["x", "y"] {
                        point.extend(
                            base64::engine::general_purpose::URL_SAFE_NO_PAD
                                .decode(jwk[c].as_str().unwrap())
                                .unwrap(),
                        );
                    }
                    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                        .verify(message, &sig)
                        .is_ok()
                }
            };
            assert!(verified, "{alg:?}");
            // The other algorithm is refused, not silently used.
            let other = if alg == Alg::Rs256 {
                Alg::Es256
            } else {
                Alg::Rs256
            };
            assert!(key.sign(&other.jws(), message).is_err());
        }
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1's example key and its thumbprint.
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        ).unwrap();
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode("AQAB")
            .unwrap();
        assert_eq!(
            thumbprint_rsa(&n, &e),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
