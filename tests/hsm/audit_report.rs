//! `keyrite audit report --html`: the auditor's printable page, rendered by headless Chromium
//! (a screenshot and a PDF, as a browser shows and prints it) and read back with pdftotext.
//! The screenshot is kept under the target directory for a reviewer (its path is printed).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::flow::*;
use common::*;
use keyrite::core::log::{LogChain, StartData, TrustedKey, data, public_key_pem, step};
use p256::ecdsa::SigningKey;

/// Renders `html` with headless Chromium into `<out>.png` and `<out>.pdf`; returns the PDF's text.
fn chromium(html: &Path, out: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", html.display());
    let png = out.with_extension("png");
    let pdf = out.with_extension("pdf");
    for (flag, file) in [("--screenshot", &png), ("--print-to-pdf", &pdf)] {
        let _ = std::fs::remove_file(file);
        let status = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1100,1500",
                "--no-pdf-header-footer",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("{flag}={}", file.display()))
            .arg(&url)
            .output()
            .expect("chromium runs (./scripts/setup installs it)");
        assert!(
            file.is_file(),
            "chromium wrote no {}: {}",
            file.display(),
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let png_bytes = std::fs::read(&png).unwrap();
    assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    eprintln!("audit report screenshot: {}", png.display());
    // Reading order (no -layout): a table cell's text stays together, wrapped over lines.
    let text = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs (./scripts/setup installs poppler-utils)");
    assert!(text.status.success());
    String::from_utf8(text.stdout).unwrap()
}

/// Where the test keeps its rendering for a reviewer.
fn kept(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `keyrite audit report`: no token needed, only the published key.
fn report(target: &Path, trust: &Path, html: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("keyrite").unwrap();
    cmd.args(["audit", "report"])
        .arg(target)
        .arg("--trust")
        .arg(trust)
        .arg("--html")
        .arg(html);
    cmd
}

#[test]
fn the_printable_page_of_an_imported_two_key_ceremony_holds_every_key_and_the_verdict() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let a = external_key("page-a").0;
    let b = external_key("page-b").0;
    let (p, manifest) = full_rotation(dir.path(), &[&a, &b]);
    let trust = hsm().log_public_key();
    let html = dir.path().join("audit.html");
    let out = report(&p.bundle, &trust, &html)
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("verified: ceremony complete"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: no script, nothing to fetch.
    for banned in ["<script", "http://", "https://", "src=", "<link", "@import"] {
        assert!(!page.contains(banned), "the page holds {banned}");
    }
    assert!(page.contains("@media print"));
    // Never over an existing file.
    report(&p.bundle, &trust, &html).assert().code(5);

    let text = chromium(&html, &kept("two-key-ceremony"));
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("verified: ceremony complete"),
        "the verification line: {text}"
    );
    for k in manifest["keys"].as_array().unwrap() {
        let arn = k["key_arn"].as_str().unwrap();
        let kcv = k["generated"]["check_value"].as_str().unwrap();
        // A long ARN may wrap in its table cell: compare without white space.
        let squashed: String = text.split_whitespace().collect();
        assert!(squashed.contains(arn), "ARN {arn} missing:\n{text}");
        assert!(flat.contains(kcv), "check value {kcv} missing:\n{text}");
    }
    for want in [
        "Participants and sign-off",
        "operator",
        "Alice Admin",
        "witness",
        "Walter Witness",
        "Timeline",
        "Import receipt",
        "Deviations",
        "unsigned",
    ] {
        assert!(flat.contains(want), "{want} missing:\n{text}");
    }
    // A tampered log: no page at all.
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let mut log = std::fs::read(p.bundle.join("ceremony.log")).unwrap();
    let n = log.len();
    log[n - 10] ^= 1;
    std::fs::write(bad.join("bad.log"), &log).unwrap();
    let html2 = dir.path().join("bad.html");
    report(&bad.join("bad.log"), &trust, &html2)
        .assert()
        .code(3);
    assert!(!html2.exists(), "nothing from a log that does not verify");
}

/// A log signed by a software key whose key record names a hostile ARN: markup and terminal
/// controls in it reach the page as text.
#[test]
fn a_hostile_arn_reaches_the_page_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_slice(&[0x33; 32]).unwrap();
    let trusted = TrustedKey::from_key(*key.verifying_key()).unwrap();
    let (pem, _) = public_key_pem(key.verifying_key()).unwrap();
    let pem_path = dir.path().join("log-public-key.pem");
    std::fs::write(&pem_path, pem).unwrap();
    let h = "ab".repeat(32);
    let hostile = "arn:aws:kms:eu-west-1:111122223333:key/<script>alert(1)</script>\u{1b}[2J&amp;";
    let actors = vec!["<b>Mallory</b>".to_string()];
    let t = |s: i64| jiff::Timestamp::from_second(1_795_000_000 + s).unwrap();
    let mut chain = LogChain::new();
    let mut log = Vec::new();
    let start = StartData {
        tool_version: "0.1.0",
        tool_sha256: &h,
        tool_features: "airgap",
        roles: Some(("<i>q4</i>", "<b>Mallory</b>", None)),
        script_sha256: &h,
        manifest_sha256: &h,
        token_label: "t",
        log_key_sha256: trusted.fingerprint(),
    };
    for (i, (st, d)) in [
        (step::START, start.to_data()),
        (
            step::PROBE,
            data(&[("algorithm", "RSAES_OAEP_SHA_1"), ("result", "ok")]),
        ),
        (
            step::KEY_GENERATED,
            data(&[
                ("key", "k1"),
                ("key_arn", hostile),
                ("hsm_label", "l"),
                ("check_value", "abcdef"),
            ]),
        ),
        (
            step::KEY_WRAPPED,
            data(&[
                ("key", "k1"),
                ("file", "k1/EncryptedKeyMaterial.bin"),
                ("sha256", &h),
            ]),
        ),
        (step::END, data(&[("manifest_sha256", &h)])),
    ]
    .into_iter()
    .enumerate()
    {
        log.extend(chain.record(&key, t(i as i64), st, &actors, d).unwrap());
    }
    let log_path = dir.path().join("ceremony.log");
    std::fs::write(&log_path, &log).unwrap();
    let html = dir.path().join("hostile.html");
    report(&log_path, &pem_path, &html).assert().code(0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script"), "markup from the log is escaped");
    assert!(!page.contains("<b>Mallory"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains('\u{1b}'), "no raw control character");
    assert!(page.contains("\\x1b[2J"), "the control shown escaped");
    assert!(page.contains("&amp;amp;"), "an entity in the log is text");
    let text = chromium(&html, &kept("hostile-arn"));
    let squashed: String = text.split_whitespace().collect();
    assert!(
        squashed.contains("key/<script>alert(1)</script>\\x1b[2J&amp;"),
        "the ARN printed as text: {text}"
    );
    assert!(text.contains("<b>Mallory</b>"), "{text}");
}
