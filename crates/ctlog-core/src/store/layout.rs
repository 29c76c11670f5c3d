//! Where things are in a store directory, and what their names say: the
//! one place the writer, the lookups and retention learn it from.
//!
//! ```text
//! DIR/journal-GEN.bin                       records not sealed yet (journal.rs)
//! DIR/YYYY/MM/DD/LO-HI-gGEN.parquet         sealed records of journal GEN
//! DIR/YYYY/MM/DD/snapshot-AT.parquet        the conntrack table as read at AT
//! DIR/YYYY/MM/DD/.NAME.tmp                  a file being written (removed at open)
//! ```
//!
//! Times are ns since the epoch; YYYY/MM/DD is the UTC day of LO, or of
//! AT. LO is the earliest start of the file's rows and HI the latest
//! moment they speak of (an end, else a start): a lookup at T needs a file
//! only if LO <= T, and, past the latest snapshot S <= T, only if HI >= S.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// `YYYY/MM/DD` of a time in ns since the epoch, UTC (days to civil date:
/// H. Hinnant's algorithm, proleptic Gregorian).
pub fn day_dir(ns: i64) -> String {
    let z = ns.div_euclid(86_400_000_000_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}/{m:02}/{d:02}")
}

pub fn journal_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("journal-{gen}.bin"))
}

/// The sealed file of journal `gen`, relative to the store.
pub fn events_name(lo: i64, hi: i64, gen: u64) -> String {
    format!("{}/{lo}-{hi}-g{gen}.parquet", day_dir(lo))
}

/// The snapshot read at `at`, relative to the store.
pub fn snapshot_name(at: i64) -> String {
    format!("{}/snapshot-{at}.parquet", day_dir(at))
}

/// What a sealed file holds, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holds {
    /// Records of events, sealed from journal `gen`.
    Events { lo: i64, hi: i64, gen: u64 },
    /// The table as read at `at`.
    Snapshot { at: i64 },
}

impl Holds {
    pub fn of(name: &str) -> Option<Holds> {
        let stem = name.strip_suffix(".parquet")?;
        if let Some(at) = stem.strip_prefix("snapshot-") {
            return Some(Holds::Snapshot {
                at: at.parse().ok()?,
            });
        }
        let (range, gen) = stem.rsplit_once("-g")?;
        // LO may be negative (before 1970): split at the '-' after its first character.
        let cut = range.get(1..)?.find('-')? + 1;
        Some(Holds::Events {
            lo: range[..cut].parse().ok()?,
            hi: range[cut + 1..].parse().ok()?,
            gen: gen.parse().ok()?,
        })
    }

    /// The latest moment it speaks of.
    pub fn last(&self) -> i64 {
        match *self {
            Holds::Events { hi, .. } => hi,
            Holds::Snapshot { at } => at,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Sealed {
    pub path: PathBuf,
    pub holds: Holds,
    pub bytes: u64,
}

/// What a store directory holds.
#[derive(Debug, Default)]
pub struct Contents {
    pub sealed: Vec<Sealed>,
    /// The journals, by generation.
    pub journals: Vec<(u64, PathBuf)>,
    /// What a seal or a snapshot left half-written.
    pub unfinished: Vec<PathBuf>,
}

impl Contents {
    /// Reads `dir`; NotFound if it is not there.
    pub fn of(dir: &Path) -> io::Result<Contents> {
        let mut c = Contents::default();
        c.walk(dir, true)?;
        c.journals.sort();
        c.sealed.sort_by_key(|s| s.holds.last());
        Ok(c)
    }

    fn walk(&mut self, at: &Path, top: bool) -> io::Result<()> {
        for e in fs::read_dir(at)? {
            let e = e?;
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let kind = e.file_type()?;
            if kind.is_dir() {
                // Only the day directories (digits) are the store's.
                if name.bytes().all(|b| b.is_ascii_digit()) {
                    self.walk(&path, false)?;
                }
            } else if name.starts_with('.') && name.ends_with(".tmp") {
                self.unfinished.push(path);
            } else if let Some(holds) = Holds::of(&name).filter(|_| !top) {
                let bytes = e.metadata()?.len();
                self.sealed.push(Sealed { path, holds, bytes });
            } else if let Some(gen) = name
                .strip_prefix("journal-")
                .and_then(|n| n.strip_suffix(".bin"))
                .and_then(|g| g.parse().ok())
                .filter(|_| top)
            {
                self.journals.push((gen, path));
            }
        }
        Ok(())
    }

    /// The generations sealed already.
    pub fn sealed_gens(&self) -> impl Iterator<Item = u64> + '_ {
        self.sealed.iter().filter_map(|s| match s.holds {
            Holds::Events { gen, .. } => Some(gen),
            Holds::Snapshot { .. } => None,
        })
    }
}

/// Syncs a directory: a rename or a removal in it is then durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Writes a file crash safe: `write` makes it under a temporary name in
/// its directory, then it is synced, renamed to `dir/name`, and the
/// directory synced. Returns its path.
pub fn write_atomic(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let parent = path.parent().unwrap_or(dir).to_owned();
    fs::create_dir_all(&parent)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{file_name}.tmp"));
    let made = write(&tmp)
        .and_then(|()| fs::File::open(&tmp)?.sync_all())
        .and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = made {
        // Nothing half-written stays (disk full: it is tried again later).
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(&parent)?;
    Ok(path)
}
