//! `keyrite kms cosign`: a second person checks the bundle's keys and countersigns its
//! fingerprint, and `--sign-with` for `keyrite kms prepare`.

use std::io::BufRead;
use std::path::PathBuf;

use clap::Args;

use crate::app::error::Result;
use crate::app::provenance::{self, ProvenanceError, SignWith};
use crate::core::digest::{grouped, word_lines};
use crate::core::provenance::Role;
use crate::io::bundle::Bundle;

/// How a preparer or countersigner signs.
#[derive(Args, Debug)]
pub struct SignerArgs {
    /// The PKCS#11 module of a pkcs11: signer.
    #[arg(long = "signer-module", env = "KEYRITE_PKCS11_MODULE")]
    pub signer_module: Option<PathBuf>,
}

impl SignerArgs {
    /// The signer `--sign-with` names: a PKCS#8 PEM P-256 key file (readable by its owner only),
    /// or (full build) pkcs11:token=LABEL;object=KEY?pin-source=file:/path.
    pub fn signer(&self, sign_with: &str) -> Result<SignWith> {
        let module = self
            .signer_module
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_MODULE));
        SignWith::parse(sign_with, &module)
    }
}

#[cfg(feature = "airgap")]
const DEFAULT_MODULE: &str = crate::hsm::softhsm::DEFAULT_MODULE;
#[cfg(not(feature = "airgap"))]
const DEFAULT_MODULE: &str = "";

#[derive(Args, Debug)]
pub struct CosignArgs {
    /// The prepared bundle to countersign.
    #[arg(long)]
    pub bundle: PathBuf,
    /// The countersigner's key: a P-256 private key in PKCS#8 PEM (mode 0600), or (full build)
    /// pkcs11:token=LABEL;object=KEY?pin-source=file:/path.
    #[arg(long)]
    pub sign_with: String,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Sign without asking (the keys are still printed).
    #[arg(long)]
    pub yes: bool,
    /// Print the countersignature (signer, fingerprint) as JSON on stdout (the lines for people
    /// go to stderr).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: CosignArgs) -> Result<()> {
    let signer = a.signer.signer(&a.sign_with)?;
    signer.check()?;
    let bundle = Bundle::verify(&a.bundle)?;
    let summary = provenance::cosign_summary(&bundle)?;
    crate::say!(
        "bundle {} holds {}; check each against what you expect before signing:",
        a.bundle.display(),
        crate::core::terminal::counted(summary.keys.len(), "key")
    );
    for k in &summary.keys {
        crate::say!("  {}", k.requested);
        crate::say!("    ARN      {}", k.key_arn);
        crate::say!("    account  {}   region {}", k.account, k.region);
        crate::say!(
            "    wrapping key SHA-256 {}",
            grouped(&k.wrapping_key_sha256)
        );
        for (region, arn, sha) in &k.replicas {
            crate::say!("    REPLICA in {region}: {arn}");
            crate::say!("      its Region's wrapping key SHA-256 {}", grouped(sha));
        }
        match &k.takes_over {
            Some(t) => crate::say!(
                "    ALIAS MOVE: once imported, this new key takes over {} from {}",
                t.alias,
                t.previous_key_arn
            ),
            None => crate::say!("    alias move: none (no alias changes key)"),
        }
    }
    if summary.signed.is_empty() {
        crate::say!("nobody has signed it yet");
    }
    for s in &summary.signed {
        crate::say!(
            "signed ({}) by {} at {}",
            s.role.as_str(),
            s.signer_sha256,
            s.time
        );
    }
    crate::say!("bundle fingerprint:\n  {}", grouped(&summary.fingerprint));
    for line in word_lines(&summary.fingerprint) {
        crate::say!("  {line}");
    }
    if !a.yes {
        eprint!("countersign this bundle? [y/N] ");
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            return Err(ProvenanceError::Declined.into());
        }
    }
    let signed = provenance::sign(&bundle, Role::Cosign, &signer)?;
    crate::say!(
        "countersigned by {} (public key SHA-256); list it in the ceremony script's [provenance] signers",
        signed.signer_sha256
    );
    if a.json {
        println!(
            "{}",
            serde_json::json!({"bundle": a.bundle, "fingerprint": summary.fingerprint,
                "keys": summary.keys, "signer_sha256": signed.signer_sha256, "role": "cosign"})
        );
    }
    Ok(())
}
