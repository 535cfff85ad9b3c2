//! Key references (alias or ARN) and the directory names they get inside a bundle.

/// What a person names a key with on the command line or in a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Alias(String),
    Arn(String),
    KeyId(String),
}

/// Why a name from a file, a command line or AWS is not one keyrite accepts: the message says
/// what the name should look like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub String);

/// Why a text names no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefError {
    #[error(
        "{0:?} is not a usable alias: after 'alias/' use letters, digits, '/', '_' or '-' (and not 'aws/', which AWS reserves)"
    )]
    Alias(String),
    #[error("{0:?} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)")]
    Arn(String),
    #[error("{0:?} names no key: give an alias (alias/prod-s3), a key ARN, or a key id")]
    NoKey(String),
}

impl KeyRef {
    pub fn parse(s: &str) -> Result<KeyRef, KeyRefError> {
        let s = s.trim();
        if let Some(name) = s.strip_prefix("alias/") {
            if name.is_empty()
                || name.starts_with("aws/")
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
            {
                return Err(KeyRefError::Alias(s.to_string()));
            }
            return Ok(KeyRef::Alias(s.to_string()));
        }
        if s.starts_with("arn:") {
            check_key_arn(s).map_err(|_| KeyRefError::Arn(s.to_string()))?;
            return Ok(KeyRef::Arn(s.to_string()));
        }
        // A key id: a UUID, or a multi-Region key's `mrk-` and 32 hex digits.
        let id = s.strip_prefix("mrk-").unwrap_or(s);
        if !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Ok(KeyRef::KeyId(s.to_string()));
        }
        Err(KeyRefError::NoKey(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            KeyRef::Alias(s) | KeyRef::Arn(s) | KeyRef::KeyId(s) => s,
        }
    }

    /// The directory name inside a bundle: the alias without `alias/` (with `/` as `_`), or the
    /// key id.
    pub fn bundle_name(&self, key_id: &str) -> String {
        match self {
            KeyRef::Alias(a) => a.trim_start_matches("alias/").replace('/', "_"),
            KeyRef::Arn(_) | KeyRef::KeyId(_) => key_id.to_string(),
        }
    }
}

/// A KMS key ARN, exactly: `arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID`. Anything else (a
/// control character, a bidi override, an extra field) is refused where it enters keyrite.
pub fn check_key_arn(s: &str) -> Result<(), NameError> {
    let bad = || {
        NameError(format!(
            "{s:?} is not a KMS key ARN: expected arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (letters, digits and '-' only)"
        ))
    };
    let parts: Vec<&str> = s.split(':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(bad());
    };
    let key_id = resource.strip_prefix("key/").ok_or_else(bad)?;
    let ok = *arn == "arn"
        && partition.starts_with("aws")
        && partition
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-')
        && *service == "kms"
        && check_region(region).is_ok()
        && check_account(account).is_ok()
        && check_key_id(key_id).is_ok();
    if ok { Ok(()) } else { Err(bad()) }
}

/// A KMS alias: `alias/` then letters, digits, '/', '_' or '-' (AWS's grammar), at most 256.
pub fn check_alias(s: &str) -> Result<(), NameError> {
    let ok = s.len() <= 256
        && s.strip_prefix("alias/").is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(NameError(format!(
            "{s:?} is not a KMS alias: expected alias/NAME (letters, digits, '/', '_', '-')"
        )))
    }
}

/// A key id: a UUID or a multi-Region `mrk-…` id (letters, digits, '-'), at most 64.
pub fn check_key_id(s: &str) -> Result<(), NameError> {
    plain(s, 64, "-").map_err(|()| NameError(format!("{s:?} is not a KMS key id")))
}

/// An AWS region name (`eu-west-1`).
pub fn check_region(s: &str) -> Result<(), NameError> {
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(NameError(format!("{s:?} is not an AWS region name")))
    }
}

/// A 12-digit AWS account id.
pub fn check_account(s: &str) -> Result<(), NameError> {
    if s.len() == 12 && s.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(NameError(format!("{s:?} is not a 12-digit AWS account id")))
    }
}

/// A key's directory name inside a bundle (see [`KeyRef::bundle_name`]).
pub fn check_bundle_name(s: &str) -> Result<(), NameError> {
    plain(s, 256, "_-").map_err(|()| {
        NameError(format!(
            "{s:?} is not a bundle key name (letters, digits, '_' and '-' only)"
        ))
    })
}

fn plain(s: &str, max: usize, extra: &str) -> Result<(), ()> {
    let ok = !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
    if ok { Ok(()) } else { Err(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_arns_and_ids_are_told_apart() {
        let cases = [
            ("alias/prod-s3", Some("prod-s3")),
            ("alias/team/dev_rds", Some("team_dev_rds")),
            (
                "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab",
                Some("kid"),
            ),
            ("1234abcd-12ab-34cd-56ef-1234567890ab", Some("kid")),
            ("mrk-5ecbb7d591874591b301dff97fd1173b", Some("kid")),
            ("mrk-", None),
            ("mrk-xyz", None),
            ("alias/", None),
            ("alias/aws/s3", None),
            ("alias/../x", None),
            ("prod-s3 key", None),
            ("arn:aws:s3:::bucket", None),
            ("arn:aws:kms:eu-west-1:111122223333:key/\u{1b}[2J", None),
            ("arn:aws:kms:eu-west-1:111122223333:key/ab\u{202e}cd", None),
            ("arn:aws:kms:eu-west-1:1111:key/1234abcd", None),
            ("arn:aws:kms:eu-west-1:111122223333:key/k:extra", None),
            ("arn:aws:kms:eu-west-1:111122223333:alias/x", None),
            ("alias/dev\u{1b}[2J", None),
        ];
        for (input, want) in cases {
            let got = KeyRef::parse(input).map(|k| k.bundle_name("kid"));
            assert_eq!(got.ok().as_deref(), want, "{input}");
        }
    }
}
