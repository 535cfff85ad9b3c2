//! Killing a ceremony at any point leaves a log whose every complete record verifies: the log is
//! appended and fsynced one record at a time, so a kill can only cut it between records or inside
//! the last one.

mod common;

use std::time::{Duration, Instant};

use common::flow::*;
use common::*;
use keyrite::core::log::{LogError, TrustedKey, verify};

fn lines(path: &std::path::Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

#[test]
fn a_ceremony_killed_at_any_record_leaves_a_log_whose_complete_records_verify() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let aliases: Vec<String> = (0..3)
        .map(|i| rt.block_on(create_key(&c, true, &format!("kill{i}"))).0)
        .collect();
    let refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let trusted =
        TrustedKey::from_pem(&std::fs::read_to_string(hsm().log_public_key()).unwrap()).unwrap();
    let mut cut_points = Vec::new();
    // A full log here has 9 records: start, probe, 3 x (generated, wrapped), end. Kill once the
    // log has reached each record count in turn.
    for kill_at in 1..=9 {
        let p = prepare(dir.path(), &refs, default_algorithm());
        let log_path = p.bundle.join("ceremony.log");
        let mut child = ceremony_process(dir.path(), &p, &refs)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if lines(&log_path) >= kill_at || child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the ceremony never wrote {kill_at} records"
            );
            std::thread::yield_now();
        }
        let _ = child.kill();
        child.wait().unwrap();
        let log = std::fs::read(&log_path).unwrap();
        let complete = log.iter().filter(|&&b| b == b'\n').count();
        assert!(complete >= kill_at.min(9));
        cut_points.push(complete);
        // Everything up to the last newline verifies; what is missing is only the end.
        let whole = &log[..log.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
        match verify(whole, &trusted) {
            Ok(report) => assert_eq!(
                report.records.len(),
                9,
                "only a finished log verifies whole"
            ),
            Err(LogError::Unfinished { last_seq }) => assert_eq!(last_seq as usize + 1, complete),
            Err(other) => panic!("killed after {complete} records: {other}"),
        }
        // A partial last line, if any, is reported as cut off, never as a bad earlier record.
        if whole.len() < log.len() {
            assert!(
                matches!(verify(&log, &trusted), Err(LogError::Truncated { line }) if line == complete + 1)
            );
        }
    }
    eprintln!("kills landed after {cut_points:?} complete records");
    // The kills landed at different points of the ceremony (not all after it finished).
    cut_points.dedup();
    assert!(cut_points.len() >= 3, "kills landed at {cut_points:?}");
}
