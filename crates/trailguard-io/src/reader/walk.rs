//! Expanding inputs into the list of files to read: directories are walked
//! recursively in sorted order; entries that cannot be listed become errors.

use std::path::PathBuf;

use walkdir::WalkDir;

use super::error::{ReadError, ReadErrorKind};
use super::{Input, ReadOptions};

pub(crate) struct FileEntry {
    pub path: PathBuf,
    /// Named on the command line rather than found by walking.
    pub explicit: bool,
    /// Size on disk, for progress (0 when unknown).
    pub size: u64,
}

/// The files to read, in order, and the errors met while listing them.
pub(crate) fn expand(inputs: &[Input], opts: &ReadOptions) -> (Vec<FileEntry>, Vec<ReadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for input in inputs {
        let Input::Path(path) = input else { continue };
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk_dir(path, opts, &mut files, &mut errors),
            Ok(meta) => files.push(FileEntry {
                path: path.clone(),
                explicit: true,
                size: meta.len(),
            }),
            Err(e) => errors.push(ReadError::new(
                path.display().to_string(),
                None,
                ReadErrorKind::Io(e),
            )),
        }
    }
    (files, errors)
}

fn walk_dir(
    root: &std::path::Path,
    opts: &ReadOptions,
    files: &mut Vec<FileEntry>,
    errors: &mut Vec<ReadError>,
) {
    let walker = WalkDir::new(root)
        .follow_links(opts.follow_symlinks)
        .sort_by_file_name();
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_file() => {
                let size = entry.metadata().map_or(0, |m| m.len());
                files.push(FileEntry {
                    path: entry.into_path(),
                    explicit: false,
                    size,
                });
            }
            Ok(_) => {}
            Err(e) => {
                let path = e.path().unwrap_or(root).display().to_string();
                let kind = match e.into_io_error() {
                    Some(io) => ReadErrorKind::Io(io),
                    None => ReadErrorKind::Walk("filesystem loop".to_owned()),
                };
                errors.push(ReadError::new(path, None, kind));
            }
        }
    }
}
