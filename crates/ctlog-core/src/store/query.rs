//! Lookups over a store directory: its sealed files, those whose earliest
//! start (in their names) is not after the moment asked, and the records
//! of its journals not sealed yet (a writer may be appending: what is read
//! is its whole frames).

use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::file::{holders, may_hold, same_nat};
use super::journal;
use super::record::Record;

/// What a lookup found, and what it read to find it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub records: Vec<Record>,
    pub files_read: usize,
    pub row_groups_read: usize,
}

/// The sealed files and the journals of `dir`.
fn store_files(dir: &Path) -> io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    fn walk(
        at: &Path,
        top: bool,
        sealed: &mut Vec<PathBuf>,
        journals: &mut Vec<PathBuf>,
    ) -> io::Result<()> {
        for e in std::fs::read_dir(at)? {
            let e = e?;
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type()?.is_dir() {
                walk(&path, false, sealed, journals)?;
            } else if name.ends_with(".parquet") && !name.starts_with('.') {
                sealed.push(path);
            } else if top && name.starts_with("journal-") && name.ends_with(".bin") {
                journals.push(path);
            }
        }
        Ok(())
    }
    let (mut sealed, mut journals) = (Vec::new(), Vec::new());
    walk(dir, true, &mut sealed, &mut journals)?;
    Ok((sealed, journals))
}

/// The earliest start in a sealed file's name (`MIN-MAX-gGEN.parquet`).
fn min_start(path: &Path) -> Option<i64> {
    path.file_name()?.to_str()?.split('-').next()?.parse().ok()
}

/// Who held `nat_src`:`nat_sport` at `at_ns` (ns since the epoch), one
/// record a connection (file.rs holders), by start.
pub fn nat(dir: &Path, nat_src: IpAddr, nat_sport: u16, at_ns: i64) -> io::Result<Found> {
    let (sealed, journals) = store_files(dir)?;
    let mut found = Found::default();
    let mut same = Vec::new();
    for path in sealed {
        if min_start(&path).is_some_and(|min| min > at_ns) {
            continue;
        }
        let (rows, groups) = same_nat(&path, nat_src, nat_sport, at_ns)
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        found.files_read += 1;
        found.row_groups_read += groups;
        same.extend(rows);
    }
    for path in journals {
        let rows = journal::read_all(File::open(&path)?)?;
        same.extend(
            rows.into_iter()
                .filter(|r| r.nat_src == nat_src && r.nat_sport == nat_sport && may_hold(r, at_ns)),
        );
    }
    found.records = holders(same, at_ns);
    found.records.sort_by_key(|r| r.start_ns);
    Ok(found)
}
