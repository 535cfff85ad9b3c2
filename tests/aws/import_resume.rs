//! An import killed half way and resumed, against the local KMS: every key's material reaches KMS
//! exactly once. ImportKeyMaterial calls are counted on the wire by a small proxy between keyrite and
//! the local KMS, which can also hold a request so the test kills keyrite at an exact point.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::flow::*;
use common::*;

const IMPORT: &[u8] = b"TrentService.ImportKeyMaterial";
const ROTATE: &[u8] = b"TrentService.RotateKeyOnDemand";

/// Counts KMS operations by their X-Amz-Target header and forwards everything else untouched.
/// After `hold_after` forwarded imports, the next import is held (never forwarded) and reported.
struct CountingProxy {
    port: u16,
    imports: Arc<AtomicUsize>,
    rotations: Arc<AtomicUsize>,
    hold_after: Arc<AtomicUsize>,
    held: Mutex<mpsc::Receiver<()>>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

impl CountingProxy {
    fn start(upstream: &str) -> CountingProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let imports = Arc::new(AtomicUsize::new(0));
        let rotations = Arc::new(AtomicUsize::new(0));
        let hold_after = Arc::new(AtomicUsize::new(usize::MAX));
        let (tx, rx) = mpsc::channel();
        let (i, r, h) = (imports.clone(), rotations.clone(), hold_after.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (i, r, h, tx) = (i.clone(), r.clone(), h.clone(), tx.clone());
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    // Requests: one at a time per connection (HTTP/1.1, no pipelining), so a read
                    // holding a target header starts a new request.
                    let mut tail: Vec<u8> = Vec::new();
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match c_read.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let mut window = tail.clone();
                        window.extend_from_slice(&buf[..n]);
                        if contains(&window, IMPORT) {
                            if i.load(Ordering::SeqCst) >= h.load(Ordering::SeqCst) {
                                let _ = tx.send(());
                                // Hold: read on without forwarding until the client goes away.
                                while matches!(c_read.read(&mut buf), Ok(n) if n > 0) {}
                                break;
                            }
                            i.fetch_add(1, Ordering::SeqCst);
                        }
                        if contains(&window, ROTATE) {
                            r.fetch_add(1, Ordering::SeqCst);
                        }
                        tail = window[window.len().saturating_sub(IMPORT.len())..].to_vec();
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    let _ = c_write.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        CountingProxy {
            port,
            imports,
            rotations,
            hold_after,
            held: Mutex::new(rx),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn import_through(proxy: &CountingProxy, bundle: &Path) -> std::process::Command {
    let mut cmd = keyrite_process();
    cmd.env("AWS_ENDPOINT_URL", proxy.url())
        .args([
            "kms",
            "import",
            "--concurrency",
            "1",
            "--endpoint-url",
            &proxy.url(),
            "--bundle",
        ])
        .arg(bundle);
    cmd
}

/// Runs the import of `bundle` through `proxy`, which forwards `forwarded` ImportKeyMaterial
/// calls and holds the next (`expect` says which it is), and kills keyrite while it waits on it.
fn kill_while_held(proxy: &CountingProxy, bundle: &Path, forwarded: usize, expect: &str) {
    proxy.hold_after.store(forwarded, Ordering::SeqCst);
    let mut child = import_through(proxy, bundle).spawn().unwrap();
    proxy
        .held
        .lock()
        .unwrap()
        .recv_timeout(Duration::from_secs(120))
        .expect(expect);
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success(), "keyrite was killed");
}

fn stages(bundle: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("import-progress.json")).unwrap())
            .unwrap();
    v["keys"]
        .as_object()
        .unwrap()
        .values()
        .map(|k| k["stage"].as_str().unwrap().to_string())
        .collect()
}

fn current_materials(aliases: &[String]) -> Vec<(String, Option<String>)> {
    let rt = rt();
    let c = rt.block_on(client());
    aliases
        .iter()
        .map(|a| {
            let m = rt
                .block_on(c.describe_key().key_id(a).send())
                .unwrap()
                .key_metadata
                .unwrap();
            (
                m.key_state.unwrap().as_str().to_string(),
                m.current_key_material_id,
            )
        })
        .collect()
}

fn ceremony(dir: &Path, aliases: &[&str]) -> std::path::PathBuf {
    ceremony_done(dir, aliases).bundle
}

#[test]
fn an_import_killed_half_way_resumes_and_imports_every_key_exactly_once() {
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let aliases: Vec<String> = ["dev", "int", "prod"]
        .iter()
        .flat_map(|env| ["s3", "rds", "dynamodb"].map(|svc| format!("{env}-{svc}")))
        .map(|name| rt.block_on(create_key(&c, true, &name)).0)
        .collect();
    let refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let proxy = CountingProxy::start(&kms_endpoint());

    // First rotation: killed while the 4th key's ImportKeyMaterial is on the wire.
    let bundle = ceremony(dir.path(), &refs);
    kill_while_held(&proxy, &bundle, 3, "keyrite sent a 4th ImportKeyMaterial");
    assert_eq!(
        proxy.imports.load(Ordering::SeqCst),
        3,
        "3 imports reached KMS before the kill"
    );
    let mut s = stages(&bundle);
    s.sort();
    assert_eq!(
        s,
        ["done", "done", "done", "sending"],
        "progress recorded up to the kill"
    );
    let states: Vec<String> = current_materials(&aliases)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(states.iter().filter(|s| *s == "Enabled").count(), 3);

    // Resumed: only what is left, so 9 ImportKeyMaterial calls in all, one per key.
    proxy.hold_after.store(usize::MAX, Ordering::SeqCst);
    let out = import_through(&proxy, &bundle).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        proxy.imports.load(Ordering::SeqCst),
        9,
        "every key imported exactly once"
    );
    assert_eq!(
        proxy.rotations.load(Ordering::SeqCst),
        0,
        "first imports need no rotation"
    );
    assert!(stages(&bundle).iter().all(|s| s == "done"));
    let first = current_materials(&aliases);
    assert!(
        first.iter().all(|(s, m)| s == "Enabled" && m.is_some()),
        "{first:?}"
    );

    // A third run sends nothing.
    let out = import_through(&proxy, &bundle).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(proxy.imports.load(Ordering::SeqCst), 9);

    // The second rotation of the same nine keys: NEW_KEY_MATERIAL + RotateKeyOnDemand each.
    let bundle2 = ceremony(dir.path(), &refs);
    let out = import_through(&proxy, &bundle2).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(proxy.imports.load(Ordering::SeqCst), 18);
    assert_eq!(proxy.rotations.load(Ordering::SeqCst), 9);
    let second = current_materials(&aliases);
    for ((s1, m1), (s2, m2)) in first.iter().zip(&second) {
        assert_eq!((s1.as_str(), s2.as_str()), ("Enabled", "Enabled"));
        assert_ne!(m1, m2, "each key's current material changed");
    }
}

/// A multi-Region key's import killed after the primary was given its material and while the
/// replica's ImportKeyMaterial was on the wire: the re-run sends the replica its material (the
/// primary's is not sent again), and both Regions then hold one KeyMaterialId.
#[test]
fn a_multi_region_import_killed_between_its_regions_resumes_in_the_replicas_region() {
    use super::kms_multi_region::{client_in, material_in, primary_with_a_replica};
    own_token!();
    let dir = tempfile::tempdir().unwrap();
    let (home, away) = ("us-east-1", "eu-west-1");
    let (alias, id) = primary_with_a_replica(home, away);
    let proxy = CountingProxy::start(&kms_endpoint());
    let bundle = ceremony(dir.path(), &[&alias]);
    kill_while_held(
        &proxy,
        &bundle,
        1,
        "keyrite sent the replica's ImportKeyMaterial",
    );
    let (primary, state) = material_in(&client_in(home), &id);
    assert_eq!(state, "Enabled");
    assert_eq!(
        material_in(&client_in(away), &id),
        (None, "PendingImport".to_string()),
        "the replica's import never reached KMS"
    );
    let mut s = stages(&bundle);
    s.sort();
    assert_eq!(
        s,
        ["imported", "sending"],
        "the primary imported, the replica sending"
    );

    proxy.hold_after.store(usize::MAX, Ordering::SeqCst);
    let out = import_through(&proxy, &bundle).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        proxy.imports.load(Ordering::SeqCst),
        2,
        "the primary's material sent once, the replica's once"
    );
    assert_eq!(
        material_in(&client_in(away), &id),
        (primary, "Enabled".to_string())
    );
}
