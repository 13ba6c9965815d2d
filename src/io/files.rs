//! Whole-file text input and atomic output, transparently gzipped for names ending in `.gz`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{Error, Result};

/// True when `path`'s file name ends in `.gz` (case-insensitive).
fn is_gzip(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.to_ascii_lowercase().ends_with(".gz"))
}

/// Reads the whole file at `path` as UTF-8 text, gunzipping it first when the name ends in
/// `.gz` (concatenated gzip members are read in turn).
///
/// A truncated or corrupt gzip stream and text that is not UTF-8 are [`Error::Io`] errors
/// that name the file and say what is wrong.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    if is_gzip(path) {
        let mut text = String::new();
        MultiGzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .map_err(|e| {
                let what = match e.kind() {
                    io::ErrorKind::InvalidData if e.to_string().contains("UTF-8") => {
                        "gzip content is not valid UTF-8 text".to_string()
                    }
                    io::ErrorKind::UnexpectedEof => {
                        "truncated gzip data (the file ends inside the compressed stream)"
                            .to_string()
                    }
                    _ => format!("corrupt gzip data: {e}"),
                };
                Error::io(path, io::Error::new(io::ErrorKind::InvalidData, what))
            })?;
        Ok(text)
    } else {
        String::from_utf8(bytes).map_err(|e| {
            Error::io(
                path,
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "not valid UTF-8 text (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                ),
            )
        })
    }
}

/// Replaces the file at `path` with `bytes` atomically: the data go to a temporary file in the
/// same directory, which is flushed to disk (fsync) and then renamed over `path`, so readers
/// see either the old or the new file, never a partial one. The data are gzip-compressed when
/// the name ends in `.gz`. Missing parent folders are created; see [`prepare_output`] for
/// the paths that are refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    prepare_output(path)?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{}: not a file path", path.display())))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);

    let result = write_and_sync(&tmp, bytes, is_gzip(path))
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        // Best effort: the temporary file is garbage either way.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable where the platform allows syncing a directory.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Makes `path` ready to take an output file, before any work is done: creates its missing
/// parent folders, and refuses (naming the path) anything that a rename would destroy rather
/// than overwrite: an existing directory, symbolic link, FIFO, socket or device, or a file
/// without write permission. A missing path or a writable regular file is accepted.
pub fn prepare_output(path: &Path) -> Result<()> {
    let refuse = |why: &str| {
        Error::invalid(format!(
            "{}: refusing to write the output there: {why}",
            path.display()
        ))
    };
    if path.file_name().is_none() {
        return Err(refuse("not a file path"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(|e| {
                Error::io(
                    dir,
                    io::Error::new(e.kind(), format!("cannot create the output folder: {e}")),
                )
            })?;
        }
    }
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
        Ok(meta) => {
            let kind = meta.file_type();
            if kind.is_symlink() {
                Err(refuse(
                    "it is a symbolic link (give the target's path instead)",
                ))
            } else if kind.is_dir() {
                Err(refuse("it is a directory"))
            } else if !kind.is_file() {
                Err(refuse(
                    "it is not a regular file (a device, FIFO or socket)",
                ))
            } else if meta.permissions().readonly() {
                Err(refuse("the file is read-only"))
            } else {
                Ok(())
            }
        }
    }
}

/// Refuses an output path that names the same file as one of the `inputs` (which would be
/// replaced by the output), e.g. `optimize --in f --out f`.
pub fn check_not_input(output: &Path, inputs: &[&Path]) -> Result<()> {
    let Ok(out) = fs::canonicalize(output) else {
        return Ok(()); // a missing output cannot be an existing input
    };
    for input in inputs {
        if fs::canonicalize(input).is_ok_and(|i| i == out) {
            return Err(Error::invalid(format!(
                "{}: the output would overwrite the input {}; choose another output path",
                output.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Creates `tmp` (which must not exist), writes `bytes` (gzipped if asked) and fsyncs it.
fn write_and_sync(tmp: &Path, bytes: &[u8], gzip: bool) -> io::Result<()> {
    let file = OpenOptions::new().write(true).create_new(true).open(tmp)?;
    let file = if gzip {
        let mut enc = GzEncoder::new(file, Compression::default());
        enc.write_all(bytes)?;
        enc.finish()?
    } else {
        let mut file = file;
        file.write_all(bytes)?;
        file
    };
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_gzip_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.txt", "a.txt.gz", "b.GZ"] {
            let p = dir.path().join(name);
            write_atomic(&p, "héllo\nworld\n".as_bytes()).unwrap();
            assert_eq!(read_text(&p).unwrap(), "héllo\nworld\n");
            // Overwriting replaces the content.
            write_atomic(&p, b"second").unwrap();
            assert_eq!(read_text(&p).unwrap(), "second");
        }
        let raw = fs::read(dir.path().join("a.txt.gz")).unwrap();
        assert_eq!(&raw[..2], &[0x1f, 0x8b], "gzip magic");
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.xyz");
        let e = read_text(&missing).unwrap_err().to_string();
        assert!(e.contains("missing.xyz"), "{e}");
        let bad = dir.path().join("bad.txt");
        fs::write(&bad, [b'a', 0xff, 0xfe]).unwrap();
        let e = read_text(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.txt") && e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn missing_output_folders_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("no/such/dir/x.txt.gz");
        write_atomic(&nested, b"x").unwrap();
        assert_eq!(read_text(&nested).unwrap(), "x");
        // A parent that is a file cannot become a folder: the error names it.
        let file = dir.path().join("plain");
        fs::write(&file, b"keep").unwrap();
        let e = write_atomic(&file.join("x.txt"), b"x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain") && e.contains("output folder"), "{e}");
        assert_eq!(fs::read(&file).unwrap(), b"keep");
    }

    #[cfg(unix)]
    #[test]
    fn outputs_that_are_not_writable_regular_files_are_refused() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        fs::write(&target, b"target").unwrap();
        let link = dir.path().join("link.txt");
        symlink(&target, &link).unwrap();
        let e = write_atomic(&link, b"x").unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let e = write_atomic(dir.path(), b"x").unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
        let e = write_atomic(Path::new("/dev/null"), b"x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let ro = dir.path().join("ro.txt");
        fs::write(&ro, b"old").unwrap();
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o444)).unwrap();
        let e = write_atomic(&ro, b"x").unwrap_err().to_string();
        assert!(e.contains("read-only"), "{e}");
        assert_eq!(fs::read(&ro).unwrap(), b"old");
        assert_eq!(fs::read(&target).unwrap(), b"target");
    }

    #[test]
    fn an_output_equal_to_an_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("in.xyz");
        fs::write(&f, b"x").unwrap();
        let same = dir.path().join(".").join("in.xyz");
        let e = check_not_input(&same, &[&f]).unwrap_err().to_string();
        assert!(e.contains("overwrite the input"), "{e}");
        check_not_input(&dir.path().join("out.xyz"), &[&f]).unwrap();
    }
}
