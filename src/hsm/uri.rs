//! RFC 7512 `pkcs11:` URIs, the part keyrite uses: a token by label (never a slot number), an
//! optional object label, the module path and a PIN source file.

use std::path::PathBuf;

use super::HsmError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUri {
    pub token: String,
    pub object: Option<String>,
    pub module_path: Option<PathBuf>,
    pub pin_source: Option<PathBuf>,
}

impl TokenUri {
    /// Parses `pkcs11:token=LABEL[;object=…][?module-path=…&pin-source=file:…]`. A bare label
    /// (no `pkcs11:` prefix) is accepted as `pkcs11:token=LABEL`.
    pub fn parse(s: &str) -> Result<TokenUri, HsmError> {
        let Some(rest) = s.strip_prefix("pkcs11:") else {
            if s.is_empty() || s.contains(['=', ';', '?']) {
                return Err(HsmError::Uri(format!(
                    "{s:?} is neither a pkcs11: URI nor a token label"
                )));
            }
            return Ok(TokenUri {
                token: s.into(),
                object: None,
                module_path: None,
                pin_source: None,
            });
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = TokenUri {
            token: String::new(),
            object: None,
            module_path: None,
            pin_source: None,
        };
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| HsmError::Uri(format!("{s:?}: {attr:?} is not name=value")))?;
            let v = decode(v).map_err(HsmError::Uri)?;
            match k {
                "token" => uri.token = v,
                "object" => uri.object = Some(v),
                "slot-id" | "slot-description" | "slot-manufacturer" => {
                    return Err(HsmError::Uri(format!(
                        "{s:?}: keyrite selects tokens by label only, never by {k} (slot numbers change between boots)"
                    )));
                }
                "manufacturer"
                | "model"
                | "serial"
                | "library-manufacturer"
                | "library-description"
                | "library-version"
                | "type"
                | "id" => {}
                other => return Err(HsmError::Uri(format!("{s:?}: unknown attribute {other:?}"))),
            }
        }
        for q in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = q
                .split_once('=')
                .ok_or_else(|| HsmError::Uri(format!("{s:?}: {q:?} is not name=value")))?;
            let v = decode(v).map_err(HsmError::Uri)?;
            match k {
                "module-path" => uri.module_path = Some(PathBuf::from(v)),
                "pin-source" => {
                    let path = v.strip_prefix("file:").unwrap_or(&v);
                    uri.pin_source = Some(PathBuf::from(path));
                }
                "pin-value" => {
                    return Err(HsmError::Uri(
                        "pin-value is refused: a PIN in a URI ends up in shell history and process lists; use pin-source=file:/path".into(),
                    ));
                }
                other => {
                    return Err(HsmError::Uri(format!(
                        "{s:?}: unknown query attribute {other:?}"
                    )));
                }
            }
        }
        if uri.token.is_empty() {
            return Err(HsmError::Uri(format!("{s:?} names no token (token=LABEL)")));
        }
        Ok(uri)
    }
}

fn decode(v: &str) -> Result<String, String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = v
                .get(i + 1..i + 3)
                .ok_or_else(|| format!("bad %-escape in {v:?}"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad %-escape in {v:?}"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{v:?} is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_modules_and_pin_sources() {
        let u = TokenUri::parse(
            "pkcs11:token=Ceremony%20HSM;object=log?module-path=/usr/lib/x.so&pin-source=file:/run/pin",
        )
        .unwrap();
        assert_eq!(u.token, "Ceremony HSM");
        assert_eq!(u.object.as_deref(), Some("log"));
        assert_eq!(u.module_path, Some(PathBuf::from("/usr/lib/x.so")));
        assert_eq!(u.pin_source, Some(PathBuf::from("/run/pin")));
        assert_eq!(TokenUri::parse("rehearsal").unwrap().token, "rehearsal");
    }

    #[test]
    fn refuses_slot_numbers_pin_values_and_nonsense() {
        for bad in [
            "pkcs11:slot-id=3",
            "pkcs11:token=a?pin-value=1234",
            "pkcs11:token=a;colour=red",
            "pkcs11:object=x",
            "pkcs11:token=%zz",
            "token=x",
        ] {
            assert!(TokenUri::parse(bad).is_err(), "{bad}");
        }
        let e = TokenUri::parse("pkcs11:token=a?pin-value=1234")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("1234"), "the error repeats the PIN: {e}");
    }
}
