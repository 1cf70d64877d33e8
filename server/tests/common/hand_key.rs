//! A passkey made by hand: an ES256 key pair this test holds, registered with "none"
//! attestation (which signs nothing, so any key may be registered that way), so the test
//! can sign exactly the client data it wants. The soft authenticator writes its own
//! client data and cannot say, for instance, that it ran inside another site's frame.

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_cbor_2::Value as Cbor;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

pub struct HandKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    pub id: Vec<u8>,
    counter: u32,
}

fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

impl HandKey {
    pub fn new() -> HandKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let id: Vec<u8> = (0..32).map(|i| i * 7 + 3).collect();
        HandKey {
            pair,
            rng,
            id,
            counter: 0,
        }
    }

    /// The public key as a COSE_Key (EC2, ES256, P-256).
    fn cose_key(&self) -> Vec<u8> {
        let point = self.pair.public_key().as_ref(); // 0x04 ‖ x ‖ y
        let map = [
            (Cbor::Integer(1), Cbor::Integer(2)),
            (Cbor::Integer(3), Cbor::Integer(-7)),
            (Cbor::Integer(-1), Cbor::Integer(1)),
            (Cbor::Integer(-2), Cbor::Bytes(point[1..33].to_vec())),
            (Cbor::Integer(-3), Cbor::Bytes(point[33..65].to_vec())),
        ];
        serde_cbor_2::to_vec(&Cbor::Map(map.into_iter().collect())).unwrap()
    }

    /// The browser's answer to `options`, a RegisterPublicKeyCredential as JSON, whose
    /// client data says `crossOrigin`.
    pub fn register(
        &self,
        origin: &str,
        rp_id: &str,
        options: &CreationChallengeResponse,
        cross_origin: bool,
    ) -> Value {
        let client_data = serde_json::to_vec(&json!({
            "type": "webauthn.create",
            "challenge": b64(options.public_key.challenge.as_ref()),
            "origin": origin,
            "crossOrigin": cross_origin,
        }))
        .unwrap();
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP | UV | AT);
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]); // no AAGUID
        auth_data.extend((self.id.len() as u16).to_be_bytes());
        auth_data.extend(&self.id);
        auth_data.extend(self.cose_key());
        let attestation = Cbor::Map(
            [
                (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
                (Cbor::Text("attStmt".into()), Cbor::Map(Default::default())),
                (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
            ]
            .into_iter()
            .collect(),
        );
        json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&serde_cbor_2::to_vec(&attestation).unwrap()),
                "clientDataJSON": b64(&client_data),
            },
            "extensions": {},
        })
    }

    /// A signed answer to `options` whose client data says `crossOrigin`.
    pub fn assert(
        &mut self,
        origin: &str,
        rp_id: &str,
        options: &RequestChallengeResponse,
        cross_origin: bool,
    ) -> Value {
        self.counter += 1;
        let client_data = serde_json::to_vec(&json!({
            "type": "webauthn.get",
            "challenge": b64(options.public_key.challenge.as_ref()),
            "origin": origin,
            "crossOrigin": cross_origin,
        }))
        .unwrap();
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP | UV);
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = self.pair.sign(&self.rng, &signed).unwrap();
        json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.as_ref()),
                "userHandle": null,
            },
            "extensions": {},
        })
    }
}
