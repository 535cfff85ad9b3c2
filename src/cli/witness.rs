//! `keyrite witness`: an outside witness's key, and its cosignature of a bundle's ledger
//! checkpoint.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::app::error::Result;
use crate::app::witness;
use crate::core::terminal::one_line;

#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
    /// Create a witness key: an Ed25519 key file (created new, mode 0600), or with --token an
    /// Ed25519 key pair in the witness's own PKCS#11 token and a descriptor naming it; prints the
    /// verifier key auditors pass to `audit verify --witness`. Exit 5: the file or the key's
    /// label exists, or the token offers no Ed25519 (nothing generated).
    Init(InitArgs),
    /// Cosign a bundle's ledger checkpoint (cosignature/v1) if it verifies with the log key and
    /// extends the last checkpoint this witness cosigned for that log. Exit 0: cosigned; 3: the
    /// checkpoint does not verify, a split view (both heads printed), or a token whose key is not
    /// the descriptor's.
    Cosign(CosignArgs),
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The key file to create (must not exist); with --token, the descriptor of the token's key
    /// (not secret: the name, the token's and the key's labels, the public key).
    #[arg(long)]
    pub key: PathBuf,
    /// The witness's name, as its cosignature lines and auditors name it (no spaces, no '+'),
    /// e.g. audit.example.com/witness1.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub hsm: WitnessHsmArgs,
}

/// The witness's own PKCS#11 token, for a witness key kept there.
#[derive(Args, Debug)]
pub struct WitnessHsmArgs {
    /// The token holding the witness key, by label:
    /// pkcs11:token=LABEL?pin-source=file:/path (RFC 7512).
    #[arg(long)]
    pub token: Option<String>,
    /// The PKCS#11 module of --token (default: SoftHSM2's; unused without --token).
    #[arg(long, env = "KEYRITE_PKCS11_MODULE")]
    pub module: Option<PathBuf>,
}

impl WitnessHsmArgs {
    fn token(&self) -> Option<witness::WitnessToken<'_>> {
        self.token.as_deref().map(|uri| witness::WitnessToken {
            module: self.module.as_deref(),
            uri,
        })
    }
}

#[derive(Args, Debug)]
pub struct CosignArgs {
    /// The bundle whose ledger checkpoint (ledger.tlog-proof) to cosign.
    pub bundle: PathBuf,
    /// The witness key file `witness init` wrote, or the descriptor of a key in a token (then
    /// --token names that token).
    #[arg(long)]
    pub key: PathBuf,
    #[command(flatten)]
    pub hsm: WitnessHsmArgs,
    /// The witness's state: the last checkpoint it cosigned, per log (created at first use,
    /// replaced atomically). Keep it with the key; never start it again for a log cosigned before.
    #[arg(long)]
    pub state: PathBuf,
    /// The log public key (PEM) the checkpoint must be signed by.
    #[arg(long, env = "KEYRITE_LOG_TRUST", value_name = "PEM")]
    pub trust: PathBuf,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: WitnessCommand) -> Result<()> {
    match cmd {
        WitnessCommand::Init(a) => {
            let (w, kept) = match a.hsm.token() {
                None => (witness::init(&a.key, &a.name)?, "(mode 0600)"),
                Some(token) => (
                    init_in_token(&a.key, &a.name, token)?,
                    "(its key in the token)",
                ),
            };
            crate::say!(
                "witness key {} written to {} {kept}; its verifier key, for auditors:",
                one_line(&w.name),
                a.key.display()
            );
            println!("{}", w.vkey());
            Ok(())
        }
        WitnessCommand::Cosign(a) => {
            let signer = witness::read_signer(&a.key, a.hsm.token())?;
            let trusted = crate::app::audit::trusted_key(&a.trust)?;
            let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0);
            let c = witness::cosign(&a.bundle, &signer, &a.state, &trusted, now)?;
            crate::say!(
                "cosigned {} size {} root {} as {} (the last cosigned for it: size {})",
                one_line(&c.origin),
                c.size,
                c.root,
                one_line(&c.witness),
                c.previous_size
            );
            if a.json {
                println!("{}", serde_json::to_string(&c).unwrap_or_default());
            }
            Ok(())
        }
    }
}

#[cfg(feature = "airgap")]
fn init_in_token(
    key: &std::path::Path,
    name: &str,
    token: witness::WitnessToken,
) -> Result<crate::core::ledger::cosignature::WitnessKey> {
    witness::init_in_token(key, name, token)
}

#[cfg(not(feature = "airgap"))]
fn init_in_token(
    _: &std::path::Path,
    _: &str,
    _: witness::WitnessToken,
) -> Result<crate::core::ledger::cosignature::WitnessKey> {
    Err(crate::app::ledger_error::LedgerError::WitnessNeedsHsm.into())
}
