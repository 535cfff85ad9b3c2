//! Import parameters saved the AWS CLI way, so a bundle can be prepared from parameters someone
//! fetched with `aws kms get-parameters-for-import`:
//!
//! - the CLI's JSON output (`KeyId`, `ImportToken` and `PublicKey` in base64, `ParametersValidTo`
//!   as epoch seconds, or as an ISO 8601 time with `cli_timestamp_format = iso8601`);
//! - a directory of files, as the AWS documentation saves them: the public key as
//!   `WrappingPublicKey.bin` / `PublicKey.bin` (raw DER) or `WrappingPublicKey.b64` /
//!   `PublicKey.b64` (`--query PublicKey --output text`), the token as `ImportToken.bin` (raw)
//!   or `ImportToken.b64` (base64 text). The file name says the encoding: the content cannot
//!   (a raw token may consist of base64 characters only).
//!
//! Nothing in here does I/O.

use data_encoding::BASE64;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

/// The public key's file names, in the order they are looked for, with whether each is base64.
pub const PUBLIC_KEY_FILES: [(&str, bool); 4] = [
    ("WrappingPublicKey.bin", false),
    ("PublicKey.bin", false),
    ("WrappingPublicKey.b64", true),
    ("PublicKey.b64", true),
];
/// The import token's file names, likewise.
pub const IMPORT_TOKEN_FILES: [(&str, bool); 2] =
    [("ImportToken.bin", false), ("ImportToken.b64", true)];

/// Import parameters for one key, from wherever they were saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliParameters {
    /// The key the parameters were fetched for (the JSON's KeyId; unknown for bare files).
    pub key_arn: Option<String>,
    pub public_key_der: Vec<u8>,
    pub import_token: Vec<u8>,
    /// When the parameters expire (unknown for bare files).
    pub valid_to: Option<Timestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CliJson {
    key_id: Option<String>,
    import_token: String,
    public_key: String,
    parameters_valid_to: Option<Value>,
}

/// Why saved import parameters are unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CliParamsError {
    #[error("not the JSON of `aws kms get-parameters-for-import`: {0}")]
    NotJson(String),
    #[error("ParametersValidTo is not a number of seconds")]
    ValidToNotSeconds,
    #[error("ParametersValidTo {secs}: {detail}")]
    ValidToOutOfRange { secs: f64, detail: String },
    #[error("ParametersValidTo {text:?}: {detail}")]
    ValidToUnparsable { text: String, detail: String },
    #[error("ParametersValidTo {value} is neither seconds nor a time")]
    ValidToWrongType { value: String },
    #[error("{what} is empty")]
    Empty { what: String },
    #[error("{what} is not base64: {detail}")]
    NotBase64 { what: String, detail: String },
}

/// Parses the JSON that `aws kms get-parameters-for-import` prints.
pub fn parse_json(bytes: &[u8]) -> Result<CliParameters, CliParamsError> {
    let j: CliJson =
        serde_json::from_slice(bytes).map_err(|e| CliParamsError::NotJson(e.to_string()))?;
    let valid_to = match j.parameters_valid_to {
        None => None,
        Some(Value::Number(n)) => {
            let secs = n.as_f64().ok_or(CliParamsError::ValidToNotSeconds)?;
            // Whole seconds: the sub-second part only ever makes the parameters expire later.
            Some(Timestamp::from_second(secs.floor() as i64).map_err(|e| {
                CliParamsError::ValidToOutOfRange {
                    secs,
                    detail: e.to_string(),
                }
            })?)
        }
        Some(Value::String(s)) => {
            Some(
                s.parse::<Timestamp>()
                    .map_err(|e| CliParamsError::ValidToUnparsable {
                        text: s.clone(),
                        detail: e.to_string(),
                    })?,
            )
        }
        Some(other) => {
            return Err(CliParamsError::ValidToWrongType {
                value: other.to_string(),
            });
        }
    };
    Ok(CliParameters {
        key_arn: j.key_id,
        public_key_der: decode_base64("PublicKey", j.public_key.as_bytes())?,
        import_token: decode_base64("ImportToken", j.import_token.as_bytes())?,
        valid_to,
    })
}

/// Decodes a base64 text file or field, ignoring whitespace and line breaks.
pub fn decode_base64(what: &str, text: &[u8]) -> Result<Vec<u8>, CliParamsError> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(CliParamsError::Empty { what: what.into() });
    }
    BASE64
        .decode(&compact)
        .map_err(|e| CliParamsError::NotBase64 {
            what: what.into(),
            detail: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_json_parses_with_epoch_or_iso_validity() {
        let j = br#"{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/k","ImportToken":"OThkNWVhYmU=","PublicKey":"MIIB","ParametersValidTo":1804144950.841814}"#;
        let p = parse_json(j).unwrap();
        assert_eq!(
            p.key_arn.as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/k")
        );
        assert_eq!(p.import_token, b"98d5eabe");
        assert_eq!(p.public_key_der, [0x30, 0x82, 0x01]);
        assert_eq!(
            p.valid_to,
            Some(Timestamp::from_second(1_804_144_950).unwrap())
        );
        let iso = br#"{"ImportToken":"AA==","PublicKey":"AA==","ParametersValidTo":"2027-03-04T05:06:07.5+00:00"}"#;
        assert_eq!(
            parse_json(iso).unwrap().valid_to,
            Some("2027-03-04T05:06:07.5Z".parse().unwrap())
        );
    }

    #[test]
    fn bad_input_is_refused_with_the_reason() {
        assert!(
            parse_json(b"{}")
                .unwrap_err()
                .to_string()
                .contains("get-parameters-for-import")
        );
        let bad = br#"{"ImportToken":"***","PublicKey":"AA=="}"#;
        assert!(
            parse_json(bad)
                .unwrap_err()
                .to_string()
                .contains("ImportToken is not base64")
        );
        assert!(
            decode_base64("x", b" \n")
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        assert_eq!(decode_base64("x", b"AAEC\nAw==\n").unwrap(), [0, 1, 2, 3]);
    }
}
