//! `StrictJson`: server function arguments as a JSON body that must match exactly.
//!
//! serde ignores unknown fields by default; for a security product a field the server does
//! not know is more likely a mistake or a probe than something to silently drop, so the
//! request is refused with a 400 that names the field.

use bytes::Bytes;
use serde::{de::DeserializeOwned, Serialize};
use server_fn::codec::Post;
use server_fn::{ContentType, Decodes, Encodes, Format, FormatType};

pub struct StrictJsonEncoding;

/// Use as `#[server(input = StrictJson)]`.
pub type StrictJson = Post<StrictJsonEncoding>;

impl ContentType for StrictJsonEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for StrictJsonEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for StrictJsonEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for StrictJsonEncoding {
    type Error = String;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        // serde would also fill a struct from an array, by position; arguments are named.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err("the body must be a JSON object".into());
        }
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_ignored::deserialize(&mut de, |path| unknown.push(path.to_string()))
            .map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        match unknown.first() {
            None => Ok(value),
            Some(field) => Err(format!("unknown field `{field}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Args {
        email: String,
    }

    fn decode(s: &str) -> Result<Args, String> {
        <StrictJsonEncoding as Decodes<Args>>::decode(Bytes::from(s.to_owned()))
    }

    #[test]
    fn exact_bodies_decode() {
        assert_eq!(decode(r#"{"email":"a@b.org"}"#).unwrap().email, "a@b.org");
    }

    #[test]
    fn unknown_fields_wrong_types_and_trailing_data_are_refused() {
        assert!(decode(r#"{"email":"a@b.org","admin":true}"#)
            .unwrap_err()
            .contains("admin"));
        assert!(decode(r#"{"email":5}"#).is_err());
        assert!(decode(r#"{"email":null}"#).is_err());
        assert!(decode(r#"["a@b.org"]"#).is_err());
        assert!(decode(r#"{"email":"a@b.org"} x"#).is_err());
        assert!(decode("").is_err());
    }
}
