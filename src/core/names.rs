//! Key references (alias or ARN) and the directory names they get inside a bundle.

/// What a person names a key with on the command line or in a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Alias(String),
    Arn(String),
    KeyId(String),
}

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
            if s.split(':').count() < 6 || !s.contains(":kms:") {
                return Err(KeyRefError::Arn(s.to_string()));
            }
            return Ok(KeyRef::Arn(s.to_string()));
        }
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
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
            ("alias/", None),
            ("alias/aws/s3", None),
            ("alias/../x", None),
            ("prod-s3 key", None),
            ("arn:aws:s3:::bucket", None),
        ];
        for (input, want) in cases {
            let got = KeyRef::parse(input).map(|k| k.bundle_name("kid"));
            assert_eq!(got.ok().as_deref(), want, "{input}");
        }
    }
}
