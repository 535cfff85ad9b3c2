//! Files written the way evidence must be: created new (never overwriting), written whole, fsynced,
//! and the directory entry fsynced too. A replace is write-new-then-rename, so a reader sees the old
//! file or the new one, never half of either.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::core::exit::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error(
        "{path} already exists; keyrite never overwrites an output\n  what to do: choose a new path, or move the old file away after checking what it is"
    )]
    Exists { path: PathBuf },
    #[error(
        "cannot {action} {path}: {source}\n  what to do: check the path exists and is writable/readable by this user"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not UTF-8 text\n  what to do: {kind} is TOML", path.display())]
    NotText { path: PathBuf, kind: String },
    #[error(
        "{path} holds {kind} but its mode is {mode:04o}: group or others may read it\n  what to do: make it readable by its owner only: `chmod 600 {path}`, and find out who else could have read it"
    )]
    SecretExposed {
        path: PathBuf,
        kind: &'static str,
        mode: u32,
    },
    #[error(
        "{path} is a symbolic link; keyrite does not follow links inside a bundle\n  what to do: replace the link with the real file or directory, or find out who put it there"
    )]
    Symlink { path: PathBuf },
    #[error(
        "{path} is {what}, not a regular file; keyrite reads and writes only regular files in a bundle\n  what to do: replace it with the file the ceremony wrote, or find out who put it there"
    )]
    NotRegular { path: PathBuf, what: &'static str },
    #[error(
        "{path} is {len} bytes or more, larger than any bundle file keyrite writes (at most {max} bytes are read)\n  what to do: replace it with the file the ceremony wrote, or find out who put it there"
    )]
    TooLarge { path: PathBuf, len: u64, max: u64 },
    #[error(
        "{path} has {links} hard links: another name for it exists (inside or outside the bundle), and appending to or replacing it would change that file too\n  what to do: copy the file to a new one (`cp {path} {path}.copy && mv {path}.copy {path}`), and find out who linked it"
    )]
    HardLink { path: PathBuf, links: u64 },
}

/// The most keyrite reads of one bundle file (a ceremony log, a receipt, a manifest, a wrapped
/// key): far more than any it writes, little enough to hold in memory.
pub const MAX_BUNDLE_FILE: u64 = 64 * 1024 * 1024;

impl FsError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            FsError::Exists { .. }
            | FsError::Symlink { .. }
            | FsError::NotRegular { .. }
            | FsError::TooLarge { .. }
            | FsError::HardLink { .. } => ExitCode::Refused,
            FsError::Io { .. } => ExitCode::Environment,
            FsError::NotText { .. } => ExitCode::Usage,
            FsError::SecretExposed { .. } => ExitCode::Usage,
        }
    }
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FsError + 'a {
    move |source| FsError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `path` (which must not exist), writes `bytes` whole and fsyncs file and directory.
/// On a failed write the partial file is removed.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let mut file = open_new(path, false)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(FsError::Io {
            action: "write",
            path: path.to_path_buf(),
            source: e,
        });
    }
    sync_parent(path)
}

/// [`write_new`] of `dir/name`, where `dir` itself must not be a link: `dir` is opened with
/// O_NOFOLLOW|O_DIRECTORY and the file created relative to that descriptor (openat, O_EXCL,
/// O_NOFOLLOW), so a key directory swapped for a link after it was checked cannot redirect the
/// write. Returns the file's path.
#[cfg(unix)]
pub fn write_new_beneath(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, FsError> {
    use std::ffi::CString;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    let path = dir.join(name);
    let c_dir = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io_err("open", dir)(io::ErrorKind::InvalidInput.into()))?;
    let c_name = CString::new(name)
        .map_err(|_| io_err("create", &path)(io::ErrorKind::InvalidInput.into()))?;
    // SAFETY: open(2) reads the NUL-terminated path `c_dir` owns for the duration of the call.
    let dfd = unsafe {
        libc::open(
            c_dir.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if dfd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) if is_symlink(dir) => FsError::Symlink {
                path: dir.to_path_buf(),
            },
            _ => io_err("open", dir)(e),
        });
    }
    // SAFETY: `dfd` is a descriptor open(2) just returned; the OwnedFd closes it once.
    let dir_fd = unsafe { OwnedFd::from_raw_fd(dfd) };
    // SAFETY: openat(2) with the live descriptor `dir_fd` and the NUL-terminated `c_name`.
    let fd = unsafe {
        libc::openat(
            std::os::fd::AsRawFd::as_raw_fd(&dir_fd),
            c_name.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(if e.kind() == io::ErrorKind::AlreadyExists {
            FsError::Exists { path }
        } else {
            io_err("create", &path)(e)
        });
    }
    // SAFETY: `fd` is a descriptor openat(2) just returned; the File owns and closes it.
    let mut file = unsafe { File::from_raw_fd(fd) };
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = fs::remove_file(&path);
        return Err(io_err("write", &path)(e));
    }
    File::from(dir_fd)
        .sync_all()
        .map_err(io_err("sync the directory of", &path))?;
    Ok(path)
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Replaces `path` atomically: writes `<path>.new` (created new), fsyncs it, renames it over `path`
/// and fsyncs the directory.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let tmp = stage_replacement(path, bytes)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        FsError::Io {
            action: "replace",
            path: path.to_path_buf(),
            source: e,
        }
    })?;
    sync_parent(path)
}

/// [`write_new`] for a file that holds a secret (a witness key): created new with mode 0600 (its
/// owner alone may read it), written whole, fsynced with its directory.
pub fn write_new_secret(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            FsError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            io_err("create", path)(e)
        }
    })?;
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(io_err("write", path)(e));
    }
    sync_parent(path)
}

/// [`replace`] after a stop: a `<path>.new` left by a replacement that was never renamed (a
/// kill between staging and renaming) is removed first, if it is a regular file. For files whose
/// content is recomputed whole each time (the ledger and its checkpoint), where a staged copy that
/// was never renamed is simply a replacement that did not happen.
pub fn replace_again(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let tmp = sibling(path, ".new");
    if let Ok(m) = fs::symlink_metadata(&tmp) {
        refuse_special(&tmp, &m, true)?;
        fs::remove_file(&tmp).map_err(io_err("remove", &tmp))?;
    }
    replace(path, bytes)
}

/// [`replace`] in two halves, for a caller that records the replacement in between: first `<path>.new` created new, written whole, fsynced (file and
/// directory). Returns its path.
pub fn stage_replacement(path: &Path, bytes: &[u8]) -> Result<PathBuf, FsError> {
    refuse_to_replace(path)?;
    let tmp = sibling(path, ".new");
    write_new(&tmp, bytes)?;
    Ok(tmp)
}

/// The second half of [`stage_replacement`]: `<path>.new` renamed over `path`, the directory fsynced. A
/// failed rename leaves `<path>.new` in place, to be renamed again.
pub fn commit_replacement(path: &Path) -> Result<(), FsError> {
    let tmp = sibling(path, ".new");
    refuse_symlink(&tmp)?;
    refuse_to_replace(path)?;
    fs::rename(&tmp, path).map_err(io_err("replace", path))?;
    sync_parent(path)
}

/// Creates a directory that must not exist yet (its parents may be created).
pub fn create_dir_new(path: &Path) -> Result<(), FsError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
    }
    fs::create_dir(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            FsError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            FsError::Io {
                action: "create directory",
                path: path.to_path_buf(),
                source: e,
            }
        }
    })
}

/// Creates `path` (which must not exist) for appending, and fsyncs its directory so the new entry
/// survives a crash. Records are then added with [`append_synced`].
pub fn create_append_new(path: &Path) -> Result<File, FsError> {
    let file = open_new(path, true)?;
    sync_parent(path)?;
    Ok(file)
}

/// Opens `path` for writing (or appending), refusing an existing file.
fn open_new(path: &Path, append: bool) -> Result<File, FsError> {
    let mut opts = OpenOptions::new();
    if append {
        opts.append(true);
    } else {
        opts.write(true);
    }
    opts.create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o644);
    }
    opts.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            FsError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            FsError::Io {
                action: "create",
                path: path.to_path_buf(),
                source: e,
            }
        }
    })
}

/// Appends `bytes` to an append-mode file and returns once they are on stable storage.
pub fn append_synced(file: &mut File, path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    file.write_all(bytes)
        .and_then(|()| file.sync_data())
        .map_err(|source| FsError::Io {
            action: "append to",
            path: path.to_path_buf(),
            source,
        })
}

/// Reads a TOML input file (`kind`: "a ceremony script", "a plan", …) as UTF-8 text.
pub fn read_text(path: &Path, kind: &str) -> Result<String, FsError> {
    text(path, read(path)?, kind)
}

/// `bytes`, read from `path`, as UTF-8 text, or a usage error naming the file and its kind.
pub fn text(path: &Path, bytes: Vec<u8>, kind: &str) -> Result<String, FsError> {
    String::from_utf8(bytes).map_err(|_| FsError::NotText {
        path: path.to_path_buf(),
        kind: kind.to_string(),
    })
}

/// Reads a file that holds a secret (`kind`: "a PIN", "an answers file"): refused unless only its
/// owner may read it (no group or other permission bits), and read into zeroizing memory sized
/// once from the file's length, so no copy of the secret is left behind by a growing buffer.
pub fn read_secret(path: &Path, kind: &'static str) -> Result<Zeroizing<Vec<u8>>, FsError> {
    let mut file = File::open(path).map_err(io_err("read", path))?;
    let meta = file.metadata().map_err(io_err("read", path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(FsError::SecretExposed {
                path: path.to_path_buf(),
                kind,
                mode,
            });
        }
    }
    let len = usize::try_from(meta.len()).unwrap_or(0);
    // One byte more than the length, so read_to_end sees the end without growing the buffer.
    let mut buf = Zeroizing::new(Vec::with_capacity(len.saturating_add(1)));
    let mut limited = (&mut file).take(len as u64);
    limited
        .read_to_end(&mut buf)
        .map_err(io_err("read", path))?;
    Ok(buf)
}

/// Reads a file inside a bundle without following a symbolic link (O_NOFOLLOW): a bundle comes
/// back from elsewhere, and a link in it could point keyrite at any file on this machine. Only a
/// regular file is read (a FIFO would block, a device never end), and at most
/// [`MAX_BUNDLE_FILE`] bytes of it.
pub fn read_nofollow(path: &Path) -> Result<Vec<u8>, FsError> {
    read_nofollow_capped(path, MAX_BUNDLE_FILE)
}

fn read_nofollow_capped(path: &Path, max: u64) -> Result<Vec<u8>, FsError> {
    let file = open_nofollow(path, OpenOptions::new().read(true), false)?;
    let len = file.metadata().map_err(io_err("read", path))?.len();
    if len > max {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
            len,
            max,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // A file that grows while it is read stops one byte past the cap, and is refused.
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err("read", path))?;
    if bytes.len() as u64 > max {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
            len: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

/// Opens (creating if missing) a bundle file for appending, without following a link.
pub fn open_append_nofollow(path: &Path) -> Result<File, FsError> {
    let mut opts = OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o644);
    }
    open_nofollow(path, &mut opts, true)
}

/// Opens an existing bundle file to read it and append to it, without following a link; a file
/// with another name (a hard link) is refused before anything is written.
pub fn open_read_append_nofollow(path: &Path) -> Result<File, FsError> {
    open_nofollow(path, OpenOptions::new().read(true).append(true), true)
}

/// Opens a bundle file that must be a regular file with one name: not a link (O_NOFOLLOW), not
/// a FIFO, device or socket (O_NONBLOCK, so opening a FIFO cannot hang; checked on the open
/// descriptor, so a swap after the first look is caught), and when `writing` not hard-linked.
fn open_nofollow(path: &Path, opts: &mut OpenOptions, writing: bool) -> Result<File, FsError> {
    refuse_symlink(path)?;
    if let Ok(m) = fs::symlink_metadata(path) {
        refuse_special(path, &m, writing)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(|e| {
        // ELOOP: the path became a link between the check and the open.
        if e.raw_os_error() == Some(libc::ELOOP) {
            FsError::Symlink {
                path: path.to_path_buf(),
            }
        } else {
            FsError::Io {
                action: "open",
                path: path.to_path_buf(),
                source: e,
            }
        }
    })?;
    let meta = file.metadata().map_err(io_err("inspect", path))?;
    refuse_special(path, &meta, writing)?;
    Ok(file)
}

/// Refuses anything but a regular file, and when `writing` one with more than one name.
fn refuse_special(path: &Path, meta: &fs::Metadata, writing: bool) -> Result<(), FsError> {
    let t = meta.file_type();
    if !t.is_file() {
        #[cfg(unix)]
        use std::os::unix::fs::FileTypeExt;
        let what = if t.is_dir() {
            "a directory"
        } else if t.is_symlink() {
            "a symbolic link"
        } else if t.is_fifo() {
            "a FIFO (named pipe)"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        return Err(FsError::NotRegular {
            path: path.to_path_buf(),
            what,
        });
    }
    if writing {
        refuse_hard_link(path, meta)?;
    }
    Ok(())
}

/// Refuses a file with more than one name: appending to it or writing it would change the other.
fn refuse_hard_link(path: &Path, meta: &fs::Metadata) -> Result<(), FsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(FsError::HardLink {
                path: path.to_path_buf(),
                links: meta.nlink(),
            });
        }
    }
    Ok(())
}

/// Refuses to replace `path` if it is a link (symbolic or hard) or not a regular file; a missing
/// path is fine.
fn refuse_to_replace(path: &Path) -> Result<(), FsError> {
    refuse_symlink(path)?;
    match fs::symlink_metadata(path) {
        Ok(m) => refuse_special(path, &m, true),
        Err(_) => Ok(()),
    }
}

/// Refuses `path` if it is a symbolic link (to a file or a directory). A missing path is fine.
pub fn refuse_symlink(path: &Path) -> Result<(), FsError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(FsError::Symlink {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// True if `path` exists as itself (a link counts, whatever it points to).
pub fn exists_nofollow(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

pub fn read(path: &Path) -> Result<Vec<u8>, FsError> {
    fs::read(path).map_err(io_err("read", path))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn sync_parent(path: &Path) -> Result<(), FsError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", parent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_refuses_existing_file_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write_new(&p, b"first").unwrap();
        let err = write_new(&p, b"second").unwrap_err();
        assert!(matches!(err, FsError::Exists { .. }), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"first");
    }

    #[test]
    fn a_linked_directory_never_redirects_a_write_beneath_it() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let link = dir.path().join("key");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let err = write_new_beneath(&link, "EncryptedKeyMaterial.bin", b"x").unwrap_err();
        assert!(matches!(err, FsError::Symlink { .. }), "{err}");
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
        // A link as the file itself is refused too, and a real directory takes the file.
        std::os::unix::fs::symlink(elsewhere.join("f"), real.join("f")).unwrap();
        assert!(write_new_beneath(&real, "f", b"x").is_err());
        assert!(!elsewhere.join("f").exists());
        let p = write_new_beneath(&real, "g", b"data").unwrap();
        assert_eq!(fs::read(p).unwrap(), b"data");
        assert!(matches!(
            write_new_beneath(&real, "g", b"again").unwrap_err(),
            FsError::Exists { .. }
        ));
    }

    /// A FIFO, a device behind a link, an oversized file: each refused by name, and nothing
    /// blocks (the FIFO has no writer: a plain open would wait for one for ever).
    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("ceremony.log");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo(3) reads the NUL-terminated path `c` owns.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = read_nofollow(&fifo).unwrap_err();
        assert!(matches!(err, FsError::NotRegular { .. }), "{err}");
        assert!(err.to_string().contains("a FIFO"), "{err}");
        assert_eq!(err.exit_code(), ExitCode::Refused);
        assert!(matches!(
            open_append_nofollow(&fifo).unwrap_err(),
            FsError::NotRegular { .. }
        ));

        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(
            read_nofollow(&zero).unwrap_err(),
            FsError::Symlink { .. }
        ));
        assert!(matches!(
            read_nofollow(Path::new("/dev/zero")).unwrap_err(),
            FsError::NotRegular {
                what: "a device",
                ..
            }
        ));

        let big = dir.path().join("big");
        File::create(&big).unwrap().set_len(4097).unwrap();
        let err = read_nofollow_capped(&big, 4096).unwrap_err();
        assert!(matches!(err, FsError::TooLarge { len: 4097, .. }), "{err}");
        File::create(&big).unwrap().set_len(4096).unwrap();
        assert_eq!(read_nofollow_capped(&big, 4096).unwrap().len(), 4096);
    }

    /// A bundle file with a second name outside the bundle: appending to it or replacing it is
    /// refused before a byte is written, and the outside file keeps its content.
    #[test]
    fn a_hard_linked_file_is_never_appended_to_or_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.log");
        fs::write(&outside, b"outside\n").unwrap();
        let receipt = dir.path().join("import-receipt.log");
        fs::hard_link(&outside, &receipt).unwrap();
        let err = open_append_nofollow(&receipt).unwrap_err();
        assert!(matches!(err, FsError::HardLink { links: 2, .. }), "{err}");
        assert!(err.to_string().contains("what to do:"), "{err}");
        assert_eq!(err.exit_code(), ExitCode::Refused);
        assert!(open_read_append_nofollow(&receipt).is_err());
        assert!(matches!(
            replace(&receipt, b"new").unwrap_err(),
            FsError::HardLink { .. }
        ));
        assert!(!dir.path().join("import-receipt.log.new").exists());
        assert_eq!(fs::read(&outside).unwrap(), b"outside\n");
        // Reading it is harmless and allowed (a backup made with `cp -al` still verifies).
        assert_eq!(read_nofollow(&receipt).unwrap(), b"outside\n");
        // One name: appended to as before.
        fs::remove_file(&outside).unwrap();
        append_synced(
            &mut open_append_nofollow(&receipt).unwrap(),
            &receipt,
            b"more\n",
        )
        .unwrap();
        assert_eq!(fs::read(&receipt).unwrap(), b"outside\nmore\n");
    }

    #[test]
    fn replace_swaps_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        write_new(&p, b"old").unwrap();
        replace(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert!(!dir.path().join("m.json.new").exists());
    }
}
