//! A 100-key ceremony's HSM phase on a fresh SoftHSM2 token — generate, check value, wrap, write
//! and read back, each step in the signed, fsynced log, the manifest replaced at the end — next to
//! the sum of the raw PKCS#11 operations it performs (generate, check value, import of the
//! wrapping key, wrap, and two log signatures per key), timed in the same run.
//! Prints figures; asserts nothing about speed. Run (release): `cargo bench --bench ceremony`.

use std::path::Path;
use std::time::{Duration, Instant};

use cryptoki::types::AuthPin;
use jiff::{SignedDuration, Timestamp};
use keyrite::app::ceremony::{self, Access, CeremonyRequest};
use keyrite::core::algorithm::{WrappingAlgorithm, WrappingKeySpec};
use keyrite::core::log::LogSigner;
use keyrite::core::manifest::{self, KeyEntry, Manifest};
use keyrite::core::script::{Answers, Script};
use keyrite::core::wrapping_key::WrappingPublicKey;
use keyrite::hsm::{LOG_KEY_LABEL, Token, softhsm};
use keyrite::io::bundle::NewBundle;

const KEYS: usize = 100;
const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";

fn module() -> String {
    std::env::var("KEYRITE_TEST_MODULE").unwrap_or_else(|_| softhsm::DEFAULT_MODULE.into())
}

/// A 4096-bit RSA public key as DER SubjectPublicKeyInfo (one for every key: KMS would hand out
/// one per key; the HSM's work per key is the same).
fn wrapping_public_key(dir: &Path) -> Vec<u8> {
    let private = dir.join("wrapping.pem");
    let public = dir.join("wrapping.der");
    let ok = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:4096",
            "-out",
        ])
        .arg(&private)
        .status()
        .expect("openssl")
        .success()
        && std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-outform", "DER", "-in"])
            .arg(&private)
            .arg("-out")
            .arg(&public)
            .status()
            .expect("openssl")
            .success();
    assert!(ok, "openssl made the wrapping key");
    std::fs::read(public).expect("the public key")
}

fn names() -> Vec<String> {
    (0..KEYS).map(|i| format!("bench-{i:03}")).collect()
}

fn bundle(dir: &Path, der: &[u8]) -> String {
    let mut b = NewBundle::create(dir).expect("bundle");
    for name in names() {
        b.write(&name, manifest::WRAPPING_PUBLIC_KEY, der)
            .expect("write");
        b.write(&name, manifest::IMPORT_TOKEN, name.as_bytes())
            .expect("write");
    }
    let valid_to = Timestamp::now() + SignedDuration::from_hours(24);
    let m = Manifest {
        format: manifest::FORMAT.into(),
        created: Timestamp::now(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        wrapping_key_spec: WrappingKeySpec::Rsa4096,
        wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha1,
        keys: names()
            .into_iter()
            .map(|name| KeyEntry {
                requested: format!("alias/{name}"),
                alias: Some(format!("alias/{name}")),
                key_id: name.clone(),
                key_arn: format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}"),
                account: ACCOUNT.into(),
                region: REGION.into(),
                key_state: "PendingImport".into(),
                current_key_material_id: None,
                parameters_valid_to: valid_to,
                generated: None,
                takes_over: None,
                replicas: Vec::new(),
                name,
            })
            .collect(),
        files: b.files().clone(),
        ceremony: None,
    };
    b.commit(&m).expect("commit")
}

fn script() -> Script {
    let mut text = "[ceremony]\nname = \"bench\"\n\n[wrapping]\nalgorithm = \"RSAES_OAEP_SHA_1\"\nkey_spec = \"RSA_4096\"\n".to_string();
    for name in names() {
        text.push_str(&format!(
            "\n[[key]]\nkey = \"alias/{name}\"\naccount = \"{ACCOUNT}\"\nregion = \"{REGION}\"\n"
        ));
    }
    text.push_str("\n[provenance]\nrequired = 0\nreason = \"a benchmark\"\n");
    Script::parse("bench.toml", &text).expect("script")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = softhsm::create_token_dir(&dir.path().join("hsm")).expect("token dir");
    // SAFETY: single-threaded here, before any thread or PKCS#11 module is started.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    let so = AuthPin::new("bench-so".into());
    let pin = AuthPin::new("bench-user".into());
    let token = Token::initialise(Path::new(&module()), "bench", &so, &pin).expect("token");
    token
        .login(&pin)
        .expect("login")
        .generate_log_key(LOG_KEY_LABEL)
        .expect("log key");
    let der = wrapping_public_key(dir.path());
    let bundle_dir = dir.path().join("bundle");
    let fingerprint = bundle(&bundle_dir, &der);
    let script = script();
    let answers = Answers {
        operator: "Alice Admin".into(),
        witness: Some("Walter Witness".into()),
        bundle_fingerprint: fingerprint,
        custodians: Vec::new(),
        resume: None,
    };

    let started = Instant::now();
    let report = ceremony::run(&CeremonyRequest {
        script: &script,
        script_sha256: &"00".repeat(32),
        bundle_dir: &bundle_dir,
        token: &token,
        access: Access::Pin(&pin),
        quorum: None,
        answers: &answers,
        escrow: None,
        so_pin: None,
        resume: None,
        progress: keyrite::app::ceremony::progress::ProgressSink::lines(),
        provenance: None,
        ledger: None,
    })
    .expect("the ceremony");
    let ceremony = started.elapsed();
    assert_eq!(report.keys.len(), KEYS);

    // The same PKCS#11 operations, raw, on the same token in the same run.
    let session = token.login(&pin).expect("login");
    let signer = session.log_signer(LOG_KEY_LABEL).expect("log key");
    let wrapping = WrappingPublicKey::from_der(&der, WrappingKeySpec::Rsa4096).expect("key");
    let (mut generate, mut check, mut import, mut wrap, mut sign) = Default::default();
    let record = [b'x'; 400];
    for name in names() {
        let t = Instant::now();
        let key = session
            .generate_ceremony_key(&format!("raw/{name}"))
            .expect("generate");
        generate += t.elapsed();
        let t = Instant::now();
        session.check_value(key.handle).expect("check value");
        check += t.elapsed();
        let t = Instant::now();
        let w = session
            .import_wrapping_key(&wrapping, &format!("raw-wrapping/{name}"))
            .expect("import");
        import += t.elapsed();
        let t = Instant::now();
        session
            .wrap(w, key.handle, WrappingAlgorithm::RsaesOaepSha1)
            .expect("wrap");
        wrap += t.elapsed();
        let t = Instant::now();
        signer.sign(&record).expect("sign");
        signer.sign(&record).expect("sign");
        sign += t.elapsed();
    }
    let raw: Duration = generate + check + import + wrap + sign;
    println!("ceremony of {KEYS} keys (SoftHSM2, module {})", module());
    println!(
        "  keyrite ceremony::run      {:>9.1} ms  ({:.2} ms/key; signed, fsynced log, files written and read back)",
        ms(ceremony),
        ms(ceremony) / KEYS as f64
    );
    println!(
        "  raw PKCS#11 sum            {:>9.1} ms  ({:.2} ms/key)",
        ms(raw),
        ms(raw) / KEYS as f64
    );
    println!(
        "    generate {:.1}  check value {:.1}  import wrapping key {:.1}  wrap {:.1}  sign x2 {:.1}",
        ms(generate),
        ms(check),
        ms(import),
        ms(wrap),
        ms(sign)
    );
    println!(
        "  ratio                      {:>9.2}x  (target: under 1 s and within 3x)",
        ceremony.as_secs_f64() / raw.as_secs_f64()
    );
}
