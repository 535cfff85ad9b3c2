//! A roster enrolled through the binary (`keyrite quorum enroll --headless`, each share to a
//! 0600 file of its own), for the tests of the quorum and of the ceremony it opens.
//!
//! Enrolment initialises a new token in an empty slot: SoftHSM2 always offers one, so there the
//! test's own store (see `common`) is used; kryoptic has a single slot, so there each enrolment's
//! keyrite processes get a fresh token database of their own (see [`Store`]).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use super::*;

/// The token store the keyrite processes of one test use: (variable, value).
#[derive(Clone)]
pub struct Store(pub &'static str, pub PathBuf);

impl Store {
    pub fn for_test(dir: &Path) -> Store {
        if hsm().is_softhsm() {
            Store(hsm().env.0, hsm().env.1.clone())
        } else {
            std::fs::create_dir_all(dir).unwrap();
            Store("KRYOPTIC_CONF", dir.join("token.sql"))
        }
    }

    /// The keyrite binary on this store.
    pub fn keyrite(&self) -> assert_cmd::Command {
        let mut cmd = keyrite();
        cmd.env(self.0, &self.1);
        cmd
    }
}

pub struct Enrolment {
    pub store: Store,
    pub label: String,
    pub out: PathBuf,
    pub names: Vec<String>,
    pub share_files: Vec<PathBuf>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Enrolment {
    pub fn share(&self, i: usize) -> String {
        let text = std::fs::read_to_string(&self.share_files[i]).unwrap();
        text.lines()
            .find(|l| l.starts_with("KR1-"))
            .expect("a share line")
            .to_string()
    }

    pub fn roster(&self) -> PathBuf {
        self.out.join("roster.json")
    }

    pub fn trust(&self) -> PathBuf {
        self.out.join("log-public-key.pem")
    }

    /// `keyrite audit verify` passes on the bundle with this roster's published log key; the
    /// log's report.
    pub fn audit_verifies(&self, bundle: &Path) -> keyrite::core::log::Report {
        keyrite()
            .args(["audit", "verify"])
            .arg(bundle)
            .arg("--trust")
            .arg(self.trust())
            .assert()
            .success();
        let log = std::fs::read(bundle.join("ceremony.log")).unwrap();
        let trusted = keyrite::core::log::TrustedKey::from_pem(
            &std::fs::read_to_string(self.trust()).unwrap(),
        )
        .unwrap();
        keyrite::core::log::verify(&log, &trusted).unwrap()
    }
}

pub fn enrol_script(dir: &Path, label: &str, m: u8, names: &[&str]) -> PathBuf {
    let mut s = format!("threshold = {m}\nout = \"enrolment\"\n\n[token]\nlabel = \"{label}\"\n");
    for n in names {
        s.push_str(&format!(
            "\n[[custodian]]\nname = \"{n}\"\nshare_file = \"shares/{}.share\"\n",
            n.to_lowercase()
        ));
    }
    std::fs::create_dir_all(dir.join("shares")).unwrap();
    let p = dir.join("enroll.toml");
    std::fs::write(&p, s).unwrap();
    p
}

pub fn enrol(dir: &Path, m: u8, names: &[&str]) -> Enrolment {
    std::fs::create_dir_all(dir).unwrap();
    let store = Store::for_test(&dir.join("store"));
    let label = unique("q");
    assert!(label.len() <= 32, "{label}");
    let script = enrol_script(dir, &label, m, names);
    let out = store
        .keyrite()
        .args(["quorum", "enroll", "--headless", "--json", "--script"])
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "enroll failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Enrolment {
        store,
        label,
        out: dir.join("enrolment"),
        names: names.iter().map(|s| s.to_string()).collect(),
        share_files: names
            .iter()
            .map(|n| dir.join(format!("shares/{}.share", n.to_lowercase())))
            .collect(),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// A 2-of-3 roster (Alice, Bob, Carol) on a token of its own, a bundle prepared for a fresh key
/// and a script for it.
pub fn quorum_bundle(name: &str) -> (tempfile::TempDir, Enrolment, flow::Prepared, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let e = enrol(&dir.path().join("enrol"), 2, &["Alice", "Bob", "Carol"]);
    let (alias, p) = flow::prepare_for_new_key(dir.path(), name);
    let script = write_script(dir.path(), &[&alias], default_algorithm(), "RSA_4096");
    (dir, e, p, script)
}
