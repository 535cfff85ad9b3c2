//! A ceremony stopped by a full disk at any of its writes can be finished or aborted once space
//! is freed, and either way the bundle is consistent. The bundle lives on a small tmpfs of its
//! own (the test mounts it: it runs as root, as CI does), filled so that only k pages are free,
//! for every k below what a three-key ceremony needs: the write that needs page k+1 fails with
//! ENOSPC, whichever it is (a log record, an EncryptedKeyMaterial.bin, manifest.json.new).

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::faults::*;
use common::flow::*;
use common::*;

/// A tmpfs mounted for this test alone, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Tmpfs {
        std::fs::create_dir(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and must run as root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }

    /// Free pages, as statvfs(2) counts them.
    fn free_pages(&self) -> u64 {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(self.0.as_os_str().as_bytes()).unwrap();
        // SAFETY: statvfs(2) fills the zeroed struct it is given for the NUL-terminated path.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
        st.f_bavail as u64
    }

    /// Fills the file system but for `pages` pages; returns the filler's path.
    fn fill_leaving(&self, pages: u64) -> PathBuf {
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        let mut len = 0u64;
        while f.write_all(&chunk).is_ok() {
            len += chunk.len() as u64;
        }
        let left = len.saturating_sub(pages * 4096);
        f.set_len(left).unwrap();
        f.sync_all().unwrap();
        assert_eq!(self.free_pages(), pages, "the filler leaves {pages} pages");
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_ceremony_stopped_by_a_full_disk_at_any_write_is_finished_or_aborted_consistently() {
    own_token!();
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let c = rt.block_on(client());
    let aliases: Vec<String> = (0..3)
        .map(|i| rt.block_on(create_key(&c, true, &format!("full{i}"))).0)
        .collect();
    let keys: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let prepared = prepare(dir.path(), &keys, default_algorithm());
    let fs = Tmpfs::mount(&dir.path().join("medium"));

    // With k pages free, for k = 0, 1, 2, ...: the write that needs page k+1 fails, until k is
    // enough for the whole ceremony.
    let mut outcomes = std::collections::BTreeMap::new();
    let mut points = 0;
    for free in 0.. {
        assert!(free < 64, "a three-key ceremony needs fewer than 64 pages");
        let p = copy_bundle(&prepared, &fs.0, &format!("free-{free}"));
        let filler = fs.fill_leaving(free);
        let out = ceremony_process(dir.path(), &p, &keys).output().unwrap();
        let what = format!("{free} free pages");
        std::fs::remove_file(&filler).unwrap();
        if out.status.success() {
            assert!(
                free >= 4,
                "{what}: a ceremony writes more than {free} pages"
            );
            check(&p, keys.len(), false, &what);
            destroy_ceremony_keys(&p);
            break;
        }
        points += 1;
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains("No space left on device"), "{what}: {err}");
        // The operators made room (the filler is gone); they finish or abort.
        let prefer = if free % 2 == 0 { "abort" } else { "finish" };
        let outcome = recover_and_check(dir.path(), &p, &keys, false, prefer, &what);
        *outcomes.entry(format!("{outcome:?}")).or_insert(0usize) += 1;
        destroy_ceremony_keys(&p);
        std::fs::remove_dir_all(&p.bundle).unwrap();
    }
    eprintln!(
        "disk-full injection on {}: {points} write points (one per page the ceremony writes), outcomes {outcomes:?}; {:.0} s",
        hsm().module.display(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        outcomes.contains_key("Finished") && outcomes.contains_key("Aborted"),
        "{outcomes:?}"
    );
}
