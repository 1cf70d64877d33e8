//! What a user's devices do, written out for the tests and the benchmarks: an
//! authenticator app's codes (RFC 6238 by hand, independent of the server's totp-rs) and a
//! browser registering a software passkey.

use url::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_rs_proto::{
    CreationChallengeResponse, RegisterPublicKeyCredential, ResidentKeyRequirement,
    UserVerificationPolicy,
};

/// The 6-digit code an authenticator app shows at unix time `at` for the key the page
/// showed (base32, grouped with spaces). SHA-1, 30-second steps.
pub fn totp(key_grouped: &str, at: i64) -> String {
    use hmac::{Hmac, Mac};
    let key = data_encoding::BASE32_NOPAD
        .decode(key_grouped.replace(' ', "").as_bytes())
        .unwrap();
    let counter = (at / 30) as u64;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[19] & 0xf) as usize;
    let bin = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    format!("{:06}", bin % 1_000_000)
}

/// What the browser would do with the registration options, done by the soft
/// authenticator. It cannot store discoverable credentials, so that request (asserted by
/// the callers that care) is dropped here; `without_uv` plays an authenticator that skips
/// user verification.
pub fn soft_register(
    key: &mut SoftPasskey,
    at: Url,
    mut options: CreationChallengeResponse,
    without_uv: bool,
) -> RegisterPublicKeyCredential {
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.require_resident_key = false;
        selection.resident_key = Some(ResidentKeyRequirement::Discouraged);
        if without_uv {
            selection.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
        }
    }
    key.do_registration(at, options)
        .expect("soft passkey registers")
}
