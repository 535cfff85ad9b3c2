use std::path::PathBuf;

use cryptoki::error::{Error as CkError, RvError};

use crate::core::exit::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    #[error(
        "cannot load the PKCS#11 module {module}: {message}\n  what to do: check the path (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so, from `apt-get install softhsm2`)"
    )]
    Load { module: PathBuf, message: String },
    #[error(
        "no token labelled {label:?} in {module}; tokens present: {present}\n  what to do: name the token by its label (pkcs11:token=LABEL); `pkcs11-tool --module {module} --list-slots` lists them"
    )]
    TokenNotFound {
        label: String,
        module: PathBuf,
        present: String,
    },
    #[error(
        "{count} tokens are labelled {label:?}; keyrite will not guess which one\n  what to do: give each token a distinct label"
    )]
    TokenAmbiguous { label: String, count: usize },
    #[error("{step}: {function} failed with {rv}\n  what to do: {hint}")]
    Pkcs11 {
        step: &'static str,
        function: String,
        rv: String,
        hint: String,
    },
    #[error("{step}: {message}\n  what to do: {hint}")]
    Refused {
        step: &'static str,
        message: String,
        hint: String,
    },
    #[error("{step}: {message}\n  what to do: {hint}")]
    Verification {
        step: &'static str,
        message: String,
        hint: String,
    },
    #[error(
        "cannot read the PIN from {path}: {message}\n  what to do: the pin-source file must exist, be readable and hold the PIN on its first line"
    )]
    PinSource { path: PathBuf, message: String },
    #[error(
        "{0}\n  what to do: write the token as pkcs11:token=LABEL (RFC 7512), optionally ?pin-source=file:/path"
    )]
    Uri(String),
    #[error(transparent)]
    File(#[from] crate::io::fs::FsError),
}

impl HsmError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            HsmError::Load { .. } | HsmError::PinSource { .. } => ExitCode::Environment,
            HsmError::TokenNotFound { .. } | HsmError::TokenAmbiguous { .. } => {
                ExitCode::Environment
            }
            HsmError::Uri(_) => ExitCode::Usage,
            HsmError::File(e) => e.exit_code(),
            HsmError::Refused { .. } => ExitCode::Refused,
            HsmError::Verification { .. } => ExitCode::VerificationFailed,
            HsmError::Pkcs11 { .. } => ExitCode::OperationFailed,
        }
    }

    /// Wraps a cryptoki error with the ceremony step it happened in.
    pub fn at(step: &'static str) -> impl FnOnce(CkError) -> HsmError {
        move |e| match e {
            CkError::Pkcs11(rv, function) => HsmError::Pkcs11 {
                step,
                function: format!("C_{function:?}"),
                rv: ckr_name(rv),
                hint: hint(rv).to_string(),
            },
            other => HsmError::Pkcs11 {
                step,
                function: "cryptoki".into(),
                rv: other.to_string(),
                hint: "this is unexpected; report it with the module name and version".into(),
            },
        }
    }
}

fn ckr_name(rv: RvError) -> String {
    // RvError's Debug is the CamelCase variant name; show the spec's CKR_ form.
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn hint(rv: RvError) -> &'static str {
    match rv {
        RvError::PinIncorrect => {
            "the PIN is wrong; each failed login counts towards locking the token, so check the pin-source before trying again"
        }
        RvError::PinLocked => "the user PIN is locked; the security officer must reset it",
        RvError::UserNotLoggedIn => "log in first (the quorum or pin-source must provide the PIN)",
        RvError::MechanismInvalid | RvError::MechanismParamInvalid | RvError::ArgumentsBad => {
            "the token does not support this mechanism with these parameters; choose a wrapping algorithm the token supports (SoftHSM2 wraps RSA-OAEP with SHA-1 only: use RSAES_OAEP_SHA_1)"
        }
        RvError::KeyNotWrappable => {
            "the key may only be wrapped under a trusted key (CKA_WRAP_WITH_TRUSTED): run the ceremony with --so-pin-source so the security officer marks the KMS wrapping key trusted"
        }
        RvError::KeyFunctionNotPermitted | RvError::KeyUnextractable => {
            "the key's attributes forbid this; it was generated with other attributes than keyrite expects"
        }
        RvError::TokenNotPresent | RvError::DeviceRemoved | RvError::DeviceError => {
            "check the HSM is connected and powered, then start the step again"
        }
        RvError::SessionHandleInvalid | RvError::SessionClosed => {
            "the session was lost; start the step again"
        }
        RvError::TemplateInconsistent
        | RvError::AttributeValueInvalid
        | RvError::AttributeTypeInvalid => {
            "the token refused the key template; it may not support one of the attributes keyrite asks for"
        }
        _ => "see the PKCS#11 error code above and the HSM's documentation; nothing was exported",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    #[test]
    fn errors_name_step_function_and_code() {
        let e = HsmError::at("wrap key")(CkError::Pkcs11(RvError::ArgumentsBad, Function::WrapKey));
        let s = e.to_string();
        assert!(
            s.starts_with("wrap key: C_WrapKey failed with CKR_ARGUMENTS_BAD"),
            "{s}"
        );
        assert!(s.contains("RSAES_OAEP_SHA_1"), "{s}");
        assert_eq!(e.exit_code(), ExitCode::OperationFailed);
    }
}
