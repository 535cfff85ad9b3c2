//! The HSM adapter: PKCS#11 through cryptoki. Every failure says which step, which PKCS#11
//! function, the CKR_ code and what to do. All calls for one token stay on one thread
//! (a cryptoki `Session` is Send but not Sync).

mod error;
pub mod key_wrap;
pub mod log_key;
pub mod pin;
pub mod probe;
pub mod softhsm;
pub mod token;
pub mod uri;
pub mod witness_key;

pub use error::HsmError;
pub use log_key::{HsmLogSigner, LOG_KEY_LABEL};
pub use token::{CeremonyKey, Token};
pub use uri::TokenUri;
