//! Tessera as an OpenID Connect provider: the protocol's pieces that need no database.
//!
//! - [`keys`]: the ID-token signing keys;
//! - [`clients`]: the apps the admin registered;
//! - here: PKCE, the `amr`/`acr` a session earns, the authorization request's rules.
//!
//! The flows themselves (authorize, token, userinfo) are in `service::oidc`.

pub mod clients;
pub mod keys;

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// An authorization code lives this long.
pub const CODE_SECS: i64 = 60;
/// An ID token is valid this long (an app makes its own session from it).
pub const ID_TOKEN_SECS: i64 = 5 * 60;
/// A refresh token, unused, lives at most this long; the Tessera session it hangs on
/// usually ends it sooner.
pub const REFRESH_SECS: i64 = 30 * 24 * 3600;
/// What an app's access tokens may live, in seconds.
pub const ACCESS_TOKEN_SECS_RANGE: std::ops::RangeInclusive<i64> = 60..=3600;
/// The longest authorization request kept while the person signs in.
pub const MAX_REQUEST_LEN: usize = 4000;

/// `acr` of a sign-in with a second step, and of one with the password alone.
pub const ACR_TWO_STEPS: &str = "urn:tessera:acr:two-step";
pub const ACR_PASSWORD: &str = "urn:tessera:acr:password";

/// The scopes Tessera knows; others in a request are ignored (OpenID Connect Core 3.1.2.1).
pub const SCOPES: &[&str] = &["openid", "email", "profile"];

/// Notes `user`'s sign-in to an app or protected site (`key`: `app:<client id>` or
/// `site:<host>`), keeping the newest per person and app.
pub async fn note_sign_in(
    conn: &mut sqlx::AnyConnection,
    user: uuid::Uuid,
    key: &str,
    name: &str,
    amr: &[String],
    now: crate::UnixTime,
) -> crate::CoreResult<()> {
    sqlx::query(
        "INSERT INTO app_sign_ins (user_id, app_key, app_name, at, how) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, app_key) DO UPDATE SET app_name = excluded.app_name, at = excluded.at, how = excluded.how",
    )
    .bind(user.to_string())
    .bind(key)
    .bind(name)
    .bind(now)
    .bind(amr.join(" "))
    .execute(conn)
    .await?;
    Ok(())
}

/// `user`'s last sign-in per app and site, newest first: (name, when, how).
pub async fn sign_ins_of(
    conn: &mut sqlx::AnyConnection,
    user: uuid::Uuid,
) -> crate::CoreResult<Vec<(String, crate::UnixTime, String)>> {
    Ok(sqlx::query_as(
        "SELECT app_name, at, how FROM app_sign_ins WHERE user_id = $1 ORDER BY at DESC, app_name LIMIT 100",
    )
    .bind(user.to_string())
    .fetch_all(conn)
    .await?)
}

/// A fresh 256-bit secret (a code, a token, a client secret), URL-safe.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for a secret: its SHA-256 (the secrets are random, so no slow hash).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// RFC 7636 S256: the verifier's shape, and its hash against the challenge.
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    shaped
        && base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier))
            == challenge
}

/// A challenge as S256 makes them: 43 base64url characters.
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How a sign-in was proved, in RFC 8176's words. The password always; then the second
/// step: an app code is `otp`; a passkey is proof of possession with user verification
/// (`pop`, `user`; not `hwk`, which would need attestation Tessera does not ask for); a
/// backup code is a one-time code, but not an app's, so it is named for what it is.
pub fn amr(second_factor: Option<&str>) -> Vec<String> {
    let mut amr = vec!["pwd".to_string()];
    let second: &[&str] = match second_factor {
        Some("app") => &["otp"],
        Some("passkey") => &["pop", "user"],
        Some("backup_code") => &["backup_code"],
        _ => &[],
    };
    if !second.is_empty() {
        amr.extend(second.iter().map(|s| s.to_string()));
        amr.push("mfa".into());
    }
    amr
}

/// Whether the sign-in behind `amr` had two steps.
pub fn two_steps(amr: &[String]) -> bool {
    amr.iter().any(|m| m == "mfa")
}

pub fn acr(amr: &[String]) -> &'static str {
    if two_steps(amr) {
        ACR_TWO_STEPS
    } else {
        ACR_PASSWORD
    }
}

/// Why an app or a protected site will not let someone in: the OAuth error, a sentence
/// for the person, and the audit record's detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub message: String,
    pub detail: String,
}

/// An app's (or a protected site's) own rules against a fully signed-in session: who may
/// use it, and whether the password alone is enough. `None`: let in.
pub fn rules_refuse(
    name: &str,
    roles: &[crate::accounts::Role],
    password_enough: bool,
    user: &crate::accounts::User,
    session: &crate::session::Session,
) -> Option<Refusal> {
    if !roles.contains(&user.role) {
        return Some(Refusal {
            error: "access_denied",
            message: format!(
                "{name} is not open to your role ({}). If you need it, ask your administrator.",
                user.role.label()
            ),
            detail: format!("role {} not allowed", user.role.as_str()),
        });
    }
    if password_enough || two_steps(&amr(session.second_factor.as_deref())) {
        return None;
    }
    let why = match session.admitted_by.as_deref() {
        Some("exception") => "under a temporary exception your administrator granted",
        Some(_) => "during your organisation's period for setting it up",
        None if !user.two_factor_enabled => "because you have not set up two-step sign-in yet",
        None => "without the second step",
    };
    Some(Refusal {
        error: "interaction_required",
        message: format!(
            "{name} needs two-step sign-in, and you signed in with your password alone ({why}). \
             Set up a passkey or an authenticator app under Security, sign out, and sign in again with it."
        ),
        detail: "password-only sign-in where two steps are required".into(),
    })
}

/// The requested scopes Tessera knows, in its own order; `None` without `openid`.
pub fn granted_scopes(requested: &str) -> Option<Vec<&'static str>> {
    let asked: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    asked.contains(&"openid").then(|| {
        SCOPES
            .iter()
            .copied()
            .filter(|s| asked.contains(s))
            .collect()
    })
}

/// A redirect or post-logout URI an admin may register: absolute, https (or http to this
/// machine, for development), no fragment, no user info. Matched exactly afterwards.
pub fn check_redirect_uri(uri: &str) -> Result<String, String> {
    let parsed = url::Url::parse(uri).map_err(|_| format!("\"{uri}\" is not an absolute URL."))?;
    let local = matches!(
        parsed.host_str(),
        Some("localhost") | Some("127.0.0.1") | Some("[::1]")
    );
    match parsed.scheme() {
        "https" => {}
        "http" if local => {}
        _ => {
            return Err(format!(
                "\"{uri}\" must use https (http only for localhost)."
            ))
        }
    }
    if parsed.fragment().is_some() {
        return Err(format!("\"{uri}\" must not have a #fragment."));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("\"{uri}\" must not carry a user name or password."));
    }
    if uri.len() > 500 {
        return Err("A redirect address is at most 500 characters.".into());
    }
    Ok(uri.to_string())
}

/// `base` with `params` added to its query (keeping any it has), for redirects back to an
/// app.
pub fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return base.to_string();
    }
    match url::Url::parse(base) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in params {
                    query.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_follows_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_s256_challenge(challenge));
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(challenge, &verifier.replace('d', "e")));
        assert!(!pkce_matches(challenge, ""), "no verifier");
        // The "plain" method (verifier = challenge) is not S256.
        assert!(!pkce_matches(challenge, challenge));
    }

    #[test]
    fn amr_says_how_the_person_proved_it() {
        assert_eq!(amr(None), ["pwd"]);
        assert_eq!(amr(Some("app")), ["pwd", "otp", "mfa"]);
        assert_eq!(amr(Some("passkey")), ["pwd", "pop", "user", "mfa"]);
        assert_eq!(amr(Some("backup_code")), ["pwd", "backup_code", "mfa"]);
        assert!(!amr(Some("passkey")).contains(&"hwk".to_string()));
        assert_eq!(acr(&amr(None)), ACR_PASSWORD);
        assert_eq!(acr(&amr(Some("app"))), ACR_TWO_STEPS);
    }

    #[test]
    fn scopes_need_openid_and_unknown_ones_are_dropped() {
        assert_eq!(
            granted_scopes("email openid x"),
            Some(vec!["openid", "email"])
        );
        assert_eq!(granted_scopes("profile email"), None);
    }

    #[test]
    fn redirect_uris_are_https_or_local() {
        assert!(check_redirect_uri("https://wiki.clinic.example/cb").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:8080/cb").is_ok());
        assert!(check_redirect_uri("http://wiki.clinic.example/cb").is_err());
        assert!(check_redirect_uri("https://wiki.clinic.example/cb#x").is_err());
        assert!(check_redirect_uri("https://u:p@wiki.clinic.example/cb").is_err());
        assert!(check_redirect_uri("/cb").is_err());
        assert_eq!(
            with_query(
                "https://a.example/cb?x=1",
                &[("code", "a b"), ("state", "s")]
            ),
            "https://a.example/cb?x=1&code=a+b&state=s"
        );
        assert_eq!(
            with_query("https://a.example/out", &[]),
            "https://a.example/out"
        );
    }
}
