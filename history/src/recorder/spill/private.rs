//! Spill files are private: created 0600 whatever the umask, tightened to 0600 when found
//! looser, refused when owned by another user, and kept aside (never deleted) when damaged.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Opens the spill file at `path` for reading and appending (creating it when `create`),
/// checks that this process's user owns it and makes it private.
pub(super) fn open(path: &Path, create: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(create);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    make_private(&file, path)?;
    Ok(file)
}

#[cfg(unix)]
fn make_private(file: &File, path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = file.metadata()?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the spill file {path:?} is owned by uid {}, not by this process's user \
                 (uid {me}): refusing to read or append to it (move it away, or replay it as \
                 its owner)",
                meta.uid()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "history: the spill file {path:?} was readable or writable by others (mode \
                 {mode:o}); made it private (0600)"
            );
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_file: &File, _path: &Path) -> io::Result<()> {
    Ok(())
}

/// Renames a spill file that held unreadable bytes to `<name>.corrupt-<time>` beside it, so
/// nothing is lost and it is never replayed again; the new path.
pub(super) fn keep_aside(path: &Path) -> io::Result<PathBuf> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(
        ".corrupt-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
    ));
    let aside = PathBuf::from(name);
    std::fs::rename(path, &aside)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&aside, std::fs::Permissions::from_mode(0o600))?;
    }
    sync_dir(&aside);
    Ok(aside)
}

pub(super) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Makes a directory entry durable (best effort; not possible on every platform).
pub(super) fn sync_dir(path: &Path) {
    if let Ok(dir) = File::open(parent_dir(path)) {
        let _ = dir.sync_all();
    }
}
