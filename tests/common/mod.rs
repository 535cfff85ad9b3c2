//! Shared test support: real parts only. A PKCS#11 token (SoftHSM2 by default; set
//! KEYRITE_TEST_MODULE to run the same tests on another module, e.g. kryoptic) and the local KMS
//! started by `scripts/test` (KEYRITE_TEST_KMS_ENDPOINT). Missing parts fail the test; nothing
//! is skipped.
#![allow(dead_code)]

pub mod flow;
pub mod tmux;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use cryptoki::types::AuthPin;
use keyrite::hsm::{Token, softhsm};
use keyrite::kms::{self, Client, KmsTarget};

pub const TOKEN_LABEL: &str = "keyrite-test";
pub const USER_PIN: &str = "test-user-pin-0001";
pub const SO_PIN: &str = "test-so-pin-0001";

pub struct TestHsm {
    pub module: PathBuf,
    /// (variable, value) that points the module at this process's token store.
    pub env: (&'static str, PathBuf),
    pub pin_file: PathBuf,
    pub dir: PathBuf,
}

impl TestHsm {
    pub fn is_softhsm(&self) -> bool {
        self.module.to_string_lossy().contains("softhsm")
    }

    /// The test token. SoftHSM2's file store, read by this process while a child process rewrites
    /// the same token's files, can fail to list the token for a moment; tests share one token
    /// across processes, so the lookup is tried a bounded number of times before failing.
    pub fn token(&self) -> Token {
        let mut last = None;
        for _ in 0..50 {
            match Token::open(&self.module, TOKEN_LABEL) {
                Ok(t) => return t,
                Err(e @ keyrite::hsm::HsmError::TokenNotFound { .. }) => last = Some(e),
                Err(e) => panic!("open the test token: {e}"),
            }
            std::thread::yield_now();
        }
        panic!(
            "open the test token: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        )
    }

    pub fn pin(&self) -> AuthPin {
        AuthPin::new(USER_PIN.into())
    }

    /// The token's log public key, PEM (for `keyrite audit verify --trust`).
    pub fn log_public_key(&self) -> PathBuf {
        self.dir.join("log-public-key.pem")
    }

    /// The --token argument for the CLI.
    pub fn token_uri(&self) -> String {
        format!(
            "pkcs11:token={TOKEN_LABEL}?pin-source=file:{}",
            self.pin_file.display()
        )
    }
}

/// One token per test process, initialised on first use. SoftHSM2 and kryoptic read their
/// configuration from the environment when the module is initialised, so it is set here once,
/// before the module is loaded, and passed explicitly to every child process.
pub fn hsm() -> &'static TestHsm {
    static HSM: OnceLock<TestHsm> = OnceLock::new();
    HSM.get_or_init(|| {
        let module = std::env::var_os("KEYRITE_TEST_MODULE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(softhsm::DEFAULT_MODULE));
        assert!(
            module.is_file(),
            "PKCS#11 module {} is missing: run the tests with ./scripts/test, which installs SoftHSM2",
            module.display()
        );
        let dir = tempfile::Builder::new().prefix("keyrite-test-hsm").tempdir().unwrap().keep();
        let env = if module.to_string_lossy().contains("kryoptic") {
            ("KRYOPTIC_CONF", dir.join("token.sql"))
        } else {
            ("SOFTHSM2_CONF", softhsm::create_token_dir(&dir.join("softhsm")).unwrap())
        };
        // SAFETY: set once, before the PKCS#11 module is loaded in this process; no test thread
        // reads this variable through C before this point.
        unsafe { std::env::set_var(env.0, &env.1) };
        let token = Token::initialise(&module, TOKEN_LABEL, &AuthPin::new(SO_PIN.into()), &AuthPin::new(USER_PIN.into()))
            .expect("initialise the test token");
        let log_key = token.login(&AuthPin::new(USER_PIN.into())).unwrap()
            .generate_log_key(keyrite::hsm::LOG_KEY_LABEL).expect("generate the log-signing key");
        let (pem, _) = keyrite::core::log::public_key_pem(log_key.key()).unwrap();
        std::fs::write(dir.join("log-public-key.pem"), pem).unwrap();
        let pin_file = dir.join("user.pin");
        std::fs::write(&pin_file, format!("{USER_PIN}\n")).unwrap();
        TestHsm { module, env, pin_file, dir }
    })
}

/// The local KMS that `scripts/test` started.
pub fn kms_endpoint() -> String {
    std::env::var("KEYRITE_TEST_KMS_ENDPOINT").expect(
        "KEYRITE_TEST_KMS_ENDPOINT is not set: run the tests with ./scripts/test, which starts the local KMS",
    )
}

pub fn kms_target() -> KmsTarget {
    KmsTarget {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some(kms_endpoint()),
        local_credentials: true,
    }
}

pub async fn client() -> Client {
    kms::connect(&kms_target())
        .await
        .expect("connect to the local KMS")
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A name no other test (or earlier run against the same KMS) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a key in the local KMS with an alias; returns (alias, arn).
pub async fn create_key(client: &Client, external: bool, name: &str) -> (String, String) {
    let mut req = client.create_key();
    if external {
        req = req.origin(aws_sdk_kms::types::OriginType::External);
    }
    let meta = req.send().await.unwrap().key_metadata.unwrap();
    let alias = format!("alias/{}", unique(name));
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(meta.key_id())
        .send()
        .await
        .unwrap();
    (alias, meta.arn().unwrap().to_string())
}

/// The keyrite binary, with the environment pointing at the test token and the local KMS.
pub fn keyrite() -> assert_cmd::Command {
    let hsm = hsm();
    let mut cmd = assert_cmd::Command::cargo_bin("keyrite").unwrap();
    cmd.env(hsm.env.0, &hsm.env.1)
        .env("KEYRITE_PKCS11_MODULE", &hsm.module)
        .env("AWS_ENDPOINT_URL", kms_endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL_KMS");
    cmd
}

/// A ceremony script for these keys, written into `dir`.
pub fn write_script(dir: &Path, keys: &[&str], algorithm: &str, spec: &str) -> PathBuf {
    let mut s = format!(
        "[ceremony]\nname = \"test ceremony\"\n\n[wrapping]\nalgorithm = \"{algorithm}\"\nkey_spec = \"{spec}\"\n"
    );
    for k in keys {
        s.push_str(&format!(
            "\n[[key]]\nkey = \"{k}\"\naccount = \"000000000000\"\nregion = \"us-east-1\"\n"
        ));
    }
    let p = dir.join(format!("{}.toml", unique("script")));
    std::fs::write(&p, s).unwrap();
    p
}

pub fn write_answers(dir: &Path, fingerprint: &str) -> PathBuf {
    let p = dir.join(format!("{}.toml", unique("answers")));
    std::fs::write(&p, format!("operator = \"Alice Admin\"\nwitness = \"Walter Witness\"\nbundle_fingerprint = \"{fingerprint}\"\n")).unwrap();
    p
}

/// The wrapping algorithm this token can do: SoftHSM2 wraps OAEP with SHA-1 only.
pub fn default_algorithm() -> &'static str {
    if hsm().is_softhsm() {
        "RSAES_OAEP_SHA_1"
    } else {
        "RSAES_OAEP_SHA_256"
    }
}

/// The wrapping algorithms the token in use really does (the capability probe must agree):
/// SoftHSM2 wraps OAEP with SHA-1 only; kryoptic does OAEP with SHA-256 and SHA-1; neither has
/// CKM_RSA_AES_KEY_WRAP (keyrite uses only the token's own).
pub fn supported_algorithms() -> Vec<keyrite::core::algorithm::WrappingAlgorithm> {
    use keyrite::core::algorithm::WrappingAlgorithm::*;
    if hsm().is_softhsm() {
        vec![RsaesOaepSha1]
    } else {
        vec![RsaesOaepSha256, RsaesOaepSha1]
    }
}

/// Every file below `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}
