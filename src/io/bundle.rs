//! The transfer bundle on disk. Reading goes through [`Bundle::verify`], the only way to obtain a
//! [`VerifiedBundle`]: code that uses bundle bytes cannot skip the hash check, and it uses the very
//! bytes that were checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::core::digest::sha256_hex;
use crate::core::exit::ExitCode;
use crate::core::manifest::{KeyEntry, Manifest, ManifestError};
use crate::io::fs as fsio;

pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(
        "{dir} is not a keyrite bundle: it has no manifest.json\n  what to do: pass the directory `keyrite kms prepare --out` created"
    )]
    NoManifest { dir: PathBuf },
    #[error(
        "{path}: the manifest is unreadable: {problem}\n  what to do: fetch a fresh copy of the bundle; do not edit manifest.json by hand"
    )]
    BadManifest {
        path: PathBuf,
        problem: ManifestError,
    },
    #[error(
        "{path} is missing, but the manifest lists it\n  what to do: copy the whole bundle directory again from its source"
    )]
    Missing { path: PathBuf },
    #[error(
        "{path} does not match the manifest: SHA-256 is {actual}, the manifest says {expected}\n  what to do: the bundle was altered or damaged in transit; do not use it. Copy it again from its source, or prepare a new one"
    )]
    HashMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error(
        "{path} is in the bundle but not in its manifest\n  what to do: remove it, or find out who put it there"
    )]
    Unlisted { path: PathBuf },
    #[error(
        "{path}: {what} is not part of this bundle; keyrite generates nothing in a bundle holding files it did not expect\n  what to do: remove it after finding out who put it there; before a ceremony a bundle holds only manifest.json and the key directories it lists"
    )]
    Stranger { path: PathBuf, what: &'static str },
    #[error(transparent)]
    Fs(#[from] fsio::FsError),
}

impl BundleError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            BundleError::HashMismatch { .. } | BundleError::Unlisted { .. } => {
                ExitCode::VerificationFailed
            }
            BundleError::NoManifest { .. }
            | BundleError::BadManifest { .. }
            | BundleError::Missing { .. } => ExitCode::VerificationFailed,
            BundleError::Stranger { .. } => ExitCode::Refused,
            BundleError::Fs(e) => e.exit_code(),
        }
    }
}

/// A bundle whose every listed file was read and matched its manifest hash.
#[derive(Debug)]
pub struct VerifiedBundle {
    dir: PathBuf,
    manifest: Manifest,
    manifest_sha256: String,
    contents: BTreeMap<String, Vec<u8>>,
}

pub struct Bundle;

impl Bundle {
    /// Reads and parses `dir/manifest.json` only, with its bytes; nothing it lists is checked.
    /// For checks that come before the hashes (the ceremony's preflight): use [`Bundle::verify`]
    /// for anything that uses the files.
    pub fn read_manifest(dir: &Path) -> Result<(Manifest, Vec<u8>), BundleError> {
        let manifest_path = dir.join(MANIFEST);
        fsio::refuse_symlink(&manifest_path)?;
        if !manifest_path.is_file() {
            return Err(BundleError::NoManifest {
                dir: dir.to_path_buf(),
            });
        }
        let bytes = fsio::read_nofollow(&manifest_path)?;
        let manifest = Manifest::parse(&bytes).map_err(|problem| BundleError::BadManifest {
            path: manifest_path.clone(),
            problem,
        })?;
        Ok((manifest, bytes))
    }

    /// Reads `dir/manifest.json`, then every file it lists, and checks each SHA-256. Files in key
    /// directories that the manifest does not list are refused too (except an in-progress `.new`).
    pub fn verify(dir: &Path) -> Result<VerifiedBundle, BundleError> {
        Bundle::verify_tolerating(dir, false)
    }

    /// [`Bundle::verify`] of a bundle whose ceremony was interrupted: an `EncryptedKeyMaterial.bin`
    /// the manifest does not list yet is let through (the ceremony log, not the manifest, vouches
    /// for it; an unrecorded one is removed when the ceremony is finished or aborted).
    pub fn verify_interrupted(dir: &Path) -> Result<VerifiedBundle, BundleError> {
        Bundle::verify_tolerating(dir, true)
    }

    fn verify_tolerating(dir: &Path, wrapped: bool) -> Result<VerifiedBundle, BundleError> {
        let (manifest, bytes) = Bundle::read_manifest(dir)?;
        let mut contents = BTreeMap::new();
        // Nothing in a bundle is followed through a link: not its key directories, not its files.
        for key in &manifest.keys {
            fsio::refuse_symlink(&dir.join(&key.name))?;
        }
        for (rel, expected) in &manifest.files {
            let path = dir.join(rel);
            // Every directory on the way: the key's, and a replica's Region's.
            let mut on_the_way = dir.to_path_buf();
            let parts: Vec<&str> = rel.split('/').collect();
            for sub in &parts[..parts.len().saturating_sub(1)] {
                on_the_way.push(sub);
                fsio::refuse_symlink(&on_the_way)?;
            }
            fsio::refuse_symlink(&path)?;
            if !path.is_file() {
                return Err(BundleError::Missing { path });
            }
            let data = fsio::read_nofollow(&path)?;
            let actual = sha256_hex(&data);
            if &actual != expected {
                return Err(BundleError::HashMismatch {
                    path,
                    expected: expected.clone(),
                    actual,
                });
            }
            contents.insert(rel.clone(), data);
        }
        for key in &manifest.keys {
            // The key's own directory, then one per replica's Region (a multi-Region key).
            for region in key.wrap_regions() {
                let prefix = Manifest::region_dir(key, region);
                let kdir = dir.join(&prefix);
                fsio::refuse_symlink(&kdir)?;
                let entries = std::fs::read_dir(&kdir)
                    .map_err(|_| BundleError::Missing { path: kdir.clone() })?;
                for entry in entries.flatten() {
                    let file_name = entry.file_name();
                    let rel = format!("{prefix}/{}", file_name.to_string_lossy());
                    let is_file = entry.file_type().is_ok_and(|t| t.is_file());
                    let ceremony_output = wrapped
                        && file_name.to_str()
                            == Some(crate::core::manifest::ENCRYPTED_KEY_MATERIAL);
                    // Written by `kms import` after the ceremony; the import receipt, not the
                    // manifest, holds its SHA-256.
                    let import_output = file_name.to_str()
                        == Some(crate::core::manifest::PRE_ROTATION_CIPHERTEXT)
                        && is_file;
                    let region_dir = region.is_none()
                        && entry.file_type().is_ok_and(|t| t.is_dir())
                        && file_name.to_str().is_some_and(|n| key.replica(n).is_some());
                    if !manifest.files.contains_key(&rel)
                        && !ceremony_output
                        && !import_output
                        && !region_dir
                    {
                        return Err(BundleError::Unlisted { path: entry.path() });
                    }
                }
            }
        }
        Ok(VerifiedBundle {
            dir: dir.to_path_buf(),
            manifest_sha256: sha256_hex(&bytes),
            manifest,
            contents,
        })
    }
}

impl Bundle {
    /// Refuses anything at the top of `dir` but `manifest.json`, the key directories the manifest
    /// lists (real directories, not links) and the regular files named in `also`: a planted file
    /// (`manifest.json.new`, which the ceremony's final manifest replacement would trip over
    /// after the keys were generated; an unknown file; a directory or link) is refused before
    /// anything is generated. Key directories' own entries are checked by [`Bundle::verify`].
    pub fn check_top_level(
        dir: &Path,
        manifest: &Manifest,
        also: &[&str],
    ) -> Result<(), BundleError> {
        let entries = std::fs::read_dir(dir).map_err(|source| fsio::FsError::Io {
            action: "list",
            path: dir.to_path_buf(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| fsio::FsError::Io {
                action: "list",
                path: dir.to_path_buf(),
                source,
            })?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_str();
            let kind = std::fs::symlink_metadata(&path)
                .map_err(|source| fsio::FsError::Io {
                    action: "inspect",
                    path: path.clone(),
                    source,
                })?
                .file_type();
            if kind.is_symlink() {
                return Err(fsio::FsError::Symlink { path }.into());
            }
            let key_dir = name.is_some_and(|n| manifest.keys.iter().any(|k| k.name == n));
            let file = name.is_some_and(|n| n == MANIFEST || also.contains(&n));
            let what = match (kind.is_dir(), kind.is_file()) {
                (true, _) if key_dir => continue,
                (_, true) if file => continue,
                (true, _) => "a directory the manifest does not list",
                (_, true) if key_dir => "a file where a key directory belongs",
                (_, true) => "a file keyrite did not write",
                _ => "a special file",
            };
            return Err(BundleError::Stranger { path, what });
        }
        Ok(())
    }
}

impl VerifiedBundle {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// SHA-256 of manifest.json as read: the bundle's fingerprint.
    pub fn fingerprint(&self) -> &str {
        &self.manifest_sha256
    }

    /// The verified bytes of `<key>/<file>`, if the manifest lists it.
    pub fn file(&self, key: &KeyEntry, file: &str) -> Option<&[u8]> {
        self.region_file(key, None, file)
    }

    /// The verified bytes of `file` for the key's own Region (None) or a replica's Region.
    pub fn region_file(&self, key: &KeyEntry, region: Option<&str>, file: &str) -> Option<&[u8]> {
        self.contents
            .get(&Manifest::region_file_path(key, region, file))
            .map(Vec::as_slice)
    }

    pub fn into_manifest(self) -> Manifest {
        self.manifest
    }
}

/// A bundle directory being written. Dropped without [`NewBundle::commit`], it removes what it
/// created, so a failed `prepare` leaves nothing behind.
pub struct NewBundle {
    dir: PathBuf,
    files: BTreeMap<String, String>,
    committed: bool,
}

impl NewBundle {
    pub fn create(dir: &Path) -> Result<NewBundle, BundleError> {
        fsio::create_dir_new(dir)?;
        Ok(NewBundle {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
            committed: false,
        })
    }

    pub fn write(&mut self, key_name: &str, file: &str, bytes: &[u8]) -> Result<(), BundleError> {
        self.write_in(key_name, None, file, bytes)
    }

    /// Writes `file` into the key's directory, or its replica Region's directory beneath it.
    pub fn write_in(
        &mut self,
        key_name: &str,
        region: Option<&str>,
        file: &str,
        bytes: &[u8],
    ) -> Result<(), BundleError> {
        let mut kdir = self.dir.join(key_name);
        let mut rel = key_name.to_string();
        for sub in std::iter::once(None).chain(region.map(Some)) {
            if let Some(r) = sub {
                kdir.push(r);
                rel = format!("{rel}/{r}");
            }
            fsio::refuse_symlink(&kdir)?;
            if !kdir.is_dir() {
                fsio::create_dir_new(&kdir)?;
            }
        }
        fsio::write_new(&kdir.join(file), bytes)?;
        self.files
            .insert(format!("{rel}/{file}"), sha256_hex(bytes));
        Ok(())
    }

    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    /// Writes manifest.json last; returns its SHA-256 (the fingerprint to read out).
    pub fn commit(mut self, manifest: &Manifest) -> Result<String, BundleError> {
        let bytes = manifest.to_json();
        fsio::write_new(&self.dir.join(MANIFEST), &bytes)?;
        self.committed = true;
        Ok(sha256_hex(&bytes))
    }
}

impl Drop for NewBundle {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
