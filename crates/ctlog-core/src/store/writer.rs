//! Writing a store directory: records go to the journal (journal.rs) and
//! are synced every second; a seal writes them as one Parquet file
//! (file.rs) under `YYYY/MM/DD/` of their earliest start (UTC), named
//! `MINSTART-MAXSTART-gGEN.parquet`, and then drops their journal. Every
//! step is crash safe:
//! - a Parquet file is written under a temporary name, synced, renamed,
//!   and its directory synced: a reader never sees half a file;
//! - the journal of generation GEN is dropped only once the file of GEN is
//!   there; opening the directory seals a journal whose file is not there
//!   (a crash before or during its seal) and drops one whose file is (a
//!   crash between the two), and removes what a seal left half-written.
//!
//! Memory: the records since the last seal, at most `seal_rows` of them
//! (about 150 bytes each).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::file::write_file;
use super::journal;
use super::record::Record;

/// When a seal is due.
#[derive(Clone, Copy, Debug)]
pub struct SealAfter {
    /// Records since the last seal.
    pub rows: usize,
    /// Nanoseconds since the first record after the last seal.
    pub ns: i64,
}

pub struct StoreWriter {
    dir: PathBuf,
    after: SealAfter,
    /// The generation of the journal being written: the file it seals into is named by it.
    gen: u64,
    journal: File,
    /// Every record since the last seal; the last `pending` not yet in the journal.
    rows: Vec<Record>,
    pending: usize,
    /// When the first of `rows` was pushed (the caller's clock, ns).
    first_at: Option<i64>,
}

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

fn journal_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("journal-{gen}.bin"))
}

/// The generation in a journal's or a sealed file's name.
fn gen_of(name: &str) -> Option<u64> {
    if let Some(g) = name
        .strip_prefix("journal-")
        .and_then(|n| n.strip_suffix(".bin"))
    {
        return g.parse().ok();
    }
    name.strip_suffix(".parquet")?
        .rsplit_once("-g")?
        .1
        .parse()
        .ok()
}

/// Every file under `dir` (the sealed files in their day directories).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            walk(&e.path(), out)?;
        } else {
            out.push(e.path());
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Seals `rows` as the file of generation `gen`; returns its path, none if there were no rows.
fn seal_rows(dir: &Path, gen: u64, rows: &mut [Record]) -> io::Result<Option<PathBuf>> {
    let (Some(min), Some(max)) = (
        rows.iter().map(|r| r.start_ns).min(),
        rows.iter().map(|r| r.start_ns).max(),
    ) else {
        return Ok(None);
    };
    let day = dir.join(day_dir(min));
    fs::create_dir_all(&day)?;
    let name = format!("{min}-{max}-g{gen}.parquet");
    let tmp = day.join(format!(".{name}.tmp"));
    write_file(&tmp, rows).map_err(io::Error::other)?;
    File::open(&tmp)?.sync_all()?;
    let path = day.join(name);
    fs::rename(&tmp, &path)?;
    sync_dir(&day)?;
    Ok(Some(path))
}

impl StoreWriter {
    /// Opens the store at `dir` (made if missing): seals what a journal
    /// left there, drops what a seal left half-written. Returns the writer
    /// and the files it sealed from journals.
    pub fn open(dir: &Path, after: SealAfter) -> io::Result<(StoreWriter, Vec<PathBuf>)> {
        fs::create_dir_all(dir)?;
        let mut files = Vec::new();
        walk(dir, &mut files)?;
        let name = |p: &Path| {
            p.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned()
        };
        for tmp in files.iter().filter(|p| name(p).ends_with(".tmp")) {
            fs::remove_file(tmp)?;
        }
        let sealed: Vec<u64> = files
            .iter()
            .filter(|p| name(p).ends_with(".parquet"))
            .filter_map(|p| gen_of(&name(p)))
            .collect();
        let mut journals: Vec<(u64, PathBuf)> = files
            .iter()
            .filter(|p| p.parent() == Some(dir) && name(p).starts_with("journal-"))
            .filter_map(|p| Some((gen_of(&name(p))?, p.clone())))
            .collect();
        journals.sort();
        let mut recovered = Vec::new();
        for (gen, path) in &journals {
            if !sealed.contains(gen) {
                let mut rows = journal::read_all(File::open(path)?)?;
                recovered.extend(seal_rows(dir, *gen, &mut rows)?);
            }
            fs::remove_file(path)?;
        }
        sync_dir(dir)?;
        let gen = sealed
            .iter()
            .chain(journals.iter().map(|(g, _)| g))
            .max()
            .map_or(0, |g| g + 1);
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(journal_path(dir, gen))?;
        sync_dir(dir)?;
        Ok((
            StoreWriter {
                dir: dir.to_owned(),
                after,
                gen,
                journal,
                rows: Vec::new(),
                pending: 0,
                first_at: None,
            },
            recovered,
        ))
    }

    /// Takes a record; it is in the journal after the next sync.
    pub fn push(&mut self, r: Record, now_ns: i64) {
        self.first_at.get_or_insert(now_ns);
        self.rows.push(r);
        self.pending += 1;
    }

    /// Appends the records pushed since the last sync to the journal and
    /// syncs it: from then on a crash loses none of them.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        journal::write_all(
            &mut self.journal,
            &self.rows[self.rows.len() - self.pending..],
        )?;
        self.journal.flush()?;
        self.journal.sync_data()?;
        self.pending = 0;
        Ok(())
    }

    /// Whether a seal is due: enough records, or the first of them old enough.
    pub fn due(&self, now_ns: i64) -> bool {
        self.rows.len() >= self.after.rows
            || self.first_at.is_some_and(|t| now_ns - t >= self.after.ns)
    }

    /// Records since the last seal.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes every record since the last seal as one Parquet file, then
    /// starts a new journal. Returns the file, none if there was nothing.
    pub fn seal(&mut self) -> io::Result<Option<PathBuf>> {
        if self.rows.is_empty() {
            return Ok(None);
        }
        // What was not journaled yet is journaled first: a crash during the seal loses nothing.
        self.sync()?;
        let path = seal_rows(&self.dir, self.gen, &mut self.rows)?;
        let next = self.gen + 1;
        self.journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(journal_path(&self.dir, next))?;
        fs::remove_file(journal_path(&self.dir, self.gen))?;
        sync_dir(&self.dir)?;
        self.gen = next;
        self.rows.clear();
        self.first_at = None;
        Ok(path)
    }
}
