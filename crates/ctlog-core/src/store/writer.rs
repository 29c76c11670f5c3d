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
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::file::{connections, write_file};
use super::journal;
use super::layout::{self, journal_path, sync_dir, Contents};
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
    /// Held while open: one writer a store, in any process.
    _lock: File,
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

/// Locks the store at `dir` (flock on `DIR/.lock`, never waited for):
/// EWOULDBLOCK if another writer holds it. The lock goes with the file.
fn lock(dir: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))?;
    // SAFETY: flock only reads the descriptor, which `f` keeps open.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(f)
}

/// Seals `rows` as the file of generation `gen`; returns its path, none if
/// there were no rows. The rows are first made one a connection as far as
/// they tell (file.rs connections: a NEW and its DESTROY sealed together
/// are one row, the DESTROY's with the earlier start): most connections
/// are short, so a file holds about one row a connection, not two.
fn seal_rows(dir: &Path, gen: u64, rows: &mut Vec<Record>) -> io::Result<Option<PathBuf>> {
    *rows = connections(std::mem::take(rows));
    let (Some(lo), Some(hi)) = (
        rows.iter().map(|r| r.start_ns).min(),
        rows.iter().map(Record::last_ns).max(),
    ) else {
        return Ok(None);
    };
    let name = layout::events_name(lo, hi, gen);
    layout::write_atomic(dir, &name, |tmp| {
        write_file(tmp, rows).map_err(io::Error::other)
    })
    .map(Some)
}

/// Writes the rows of a table dump read at `at_ns` as the store's snapshot
/// of then (crash safe, as a seal is).
pub fn write_snapshot(dir: &Path, at_ns: i64, rows: &mut [Record]) -> io::Result<PathBuf> {
    layout::write_atomic(dir, &layout::snapshot_name(at_ns), |tmp| {
        write_file(tmp, rows).map_err(io::Error::other)
    })
}

impl StoreWriter {
    /// Opens the store at `dir` (made if missing): seals what a journal
    /// left there, drops what a seal left half-written. Returns the writer
    /// and the files it sealed from journals.
    pub fn open(dir: &Path, after: SealAfter) -> io::Result<(StoreWriter, Vec<PathBuf>)> {
        fs::create_dir_all(dir)?;
        let lock = lock(dir)?;
        let found = Contents::of(dir)?;
        for tmp in &found.unfinished {
            fs::remove_file(tmp)?;
        }
        let sealed: Vec<u64> = found.sealed_gens().collect();
        let journals = found.journals;
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
                _lock: lock,
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
    /// syncs it: from then on a crash loses none of them. Returns how many
    /// it journaled. If it fails (disk full), they are dropped, and the
    /// journal is cut back to its last whole frame, so that it goes on
    /// once there is room; the caller counts them lost.
    pub fn sync(&mut self) -> io::Result<usize> {
        let n = self.pending;
        if n == 0 {
            return Ok(0);
        }
        let good = self.journal.metadata()?.len();
        let from = self.rows.len() - n;
        let wrote = journal::write_all(&mut self.journal, &self.rows[from..])
            .and_then(|()| self.journal.flush())
            .and_then(|()| self.journal.sync_data());
        if let Err(e) = wrote {
            self.rows.truncate(from);
            self.pending = 0;
            if self.rows.is_empty() {
                self.first_at = None;
            }
            // A torn frame would end what is read back: none stays.
            let _ = self.journal.set_len(good);
            return Err(e);
        }
        self.pending = 0;
        Ok(n)
    }

    /// Records pushed and not journaled yet.
    pub fn pending(&self) -> usize {
        self.pending
    }

    pub fn set_seal(&mut self, after: SealAfter) {
        self.after = after;
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
    /// What was not journaled is journaled first (sync: the caller counts
    /// those its error dropped): a crash during the seal loses nothing.
    pub fn seal(&mut self) -> io::Result<Option<PathBuf>> {
        self.sync()?;
        if self.rows.is_empty() {
            return Ok(None);
        }
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
