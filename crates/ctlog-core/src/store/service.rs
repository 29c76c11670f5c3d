//! The store output's own thread: every file operation of the store
//! (journal writes, syncs, seals, snapshots, retention) happens there,
//! never on the caller's (Node's event loop). The caller pushes records
//! into a queue and reads the counts. Past the queue's size the caller
//! waits for room (the capture holds back its reader: a slow store loses
//! nothing), for a while; a store that stalls past that has what does not
//! fit counted lost instead, so that it never holds the capture for good.
//!
//! Memory: the queue (`queue` records, and one batch past it) and the
//! records since the last seal (at most 2 x `seal.rows`: past that, while
//! seals fail, the queue is not drained and fills), about 180 bytes a
//! record.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::dump::dump_table;
use super::layout::Contents;
use super::record::{Ended, Record};
use super::writer::{write_snapshot, SealAfter, StoreWriter};
use crate::kind::KINDS;

#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub dir: PathBuf,
    /// Keep every connection, not only those with a translated address or port.
    pub all: bool,
    /// Records reach the disk (journal, synced) within this.
    pub sync_ns: i64,
    pub seal: SealAfter,
    /// Between snapshots of the table; one is taken at start, and one as
    /// the store stops. 0: those two only.
    pub snapshot_ns: i64,
    /// Sealed files whose latest moment is older than this are deleted; 0: no limit.
    pub keep_ns: i64,
    /// The sealed files' total is held under this, the oldest deleted first; 0: no limit.
    pub max_bytes: u64,
    /// The network namespace whose table the snapshots read.
    pub netns: Option<PathBuf>,
    /// Records the queue holds.
    pub queue: usize,
}

/// What the store did, since it opened.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Records journaled (synced), by the kind of their event.
    pub written: Vec<u64>,
    /// Records lost: the queue was full, or a journal write failed.
    pub lost: Vec<u64>,
    /// Events not kept (no translation, with `all` off; no record).
    pub skipped: Vec<u64>,
    /// Failures by errno (0: none given), and the last one's words.
    pub errors: BTreeMap<i32, u64>,
    pub last_error: Option<String>,
}

struct State {
    queue: VecDeque<(Record, u8)>,
    counts: Counts,
    stopping: bool,
    /// Settings to apply (reconfigure), the directory aside.
    settings: Option<StoreOptions>,
}

struct Shared {
    state: Mutex<State>,
    /// The store's thread: there is work.
    wake: Condvar,
    /// The callers: the queue has room again.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic on the store's thread leaves the counts as they were: still readable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn error(&self, e: &io::Error, what: &str) {
        let mut s = self.lock();
        *s.counts
            .errors
            .entry(e.raw_os_error().unwrap_or(0))
            .or_default() += 1;
        s.counts.last_error = Some(format!("{what}: {e}"));
    }
}

pub struct Store {
    shared: Arc<Shared>,
    all: AtomicBool,
    capacity: usize,
    thread: Mutex<Option<JoinHandle<()>>>,
}

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl Store {
    /// Opens the store (StoreWriter::open: recovery happens here, and its
    /// errors are the caller's) and starts its thread.
    pub fn open(opts: StoreOptions) -> io::Result<Store> {
        let (writer, _) = StoreWriter::open(&opts.dir, opts.seal)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                counts: Counts {
                    written: vec![0; KINDS],
                    lost: vec![0; KINDS],
                    skipped: vec![0; KINDS],
                    ..Counts::default()
                },
                stopping: false,
                settings: None,
            }),
            wake: Condvar::new(),
            room: Condvar::new(),
        });
        let (all, capacity) = (opts.all, opts.queue);
        let run = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("ctlogd-store".into())
            .spawn(move || {
                let mut t = Thread {
                    shared: run,
                    writer,
                    opts,
                    kinds: Vec::new(),
                };
                t.run();
            })?;
        Ok(Store {
            shared,
            all: AtomicBool::new(all),
            capacity,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Takes the record of each event (with its kind): those without one,
    /// or not translated when only those are kept, are counted skipped.
    /// With `hold`, the queue takes them all, past its size if need be
    /// (the caller then waits for room: `wait_room`); without, those it
    /// has no room for are counted lost (a store that stalls must not hold
    /// the capture). Returns whether the queue has room left.
    pub fn push(
        &self,
        events: impl IntoIterator<Item = (Option<Record>, usize)>,
        hold: bool,
    ) -> bool {
        let mut s = self.shared.lock();
        for (r, kind) in events {
            let kind = kind.min(KINDS - 1);
            match r {
                Some(r) if self.all.load(Ordering::Relaxed) || r.translated() => {
                    // Once closing, nothing more is written.
                    if (hold || s.queue.len() < self.capacity) && !s.stopping {
                        // KINDS is far below 256.
                        s.queue.push_back((r, kind as u8));
                    } else {
                        s.counts.lost[kind] += 1;
                    }
                }
                _ => s.counts.skipped[kind] += 1,
            }
        }
        let room = s.queue.len() < self.capacity;
        drop(s);
        self.shared.wake.notify_one();
        room
    }

    /// Waits until the queue is below half its size, at most `timeout`;
    /// returns whether it is.
    pub fn wait_room(&self, timeout: Duration) -> bool {
        let low = self.capacity / 2;
        let s = self.shared.lock();
        let (s, _) = self
            .shared
            .room
            .wait_timeout_while(s, timeout, |s| s.queue.len() > low && !s.stopping)
            .unwrap_or_else(|p| p.into_inner());
        s.queue.len() <= low
    }

    /// Applies new settings from the next record on (a reload); the
    /// directory and the queue's size stay as they were opened.
    pub fn reconfigure(&self, opts: StoreOptions) {
        self.all.store(opts.all, Ordering::Relaxed);
        self.shared.lock().settings = Some(opts);
        self.shared.wake.notify_one();
    }

    pub fn counts(&self) -> Counts {
        self.shared.lock().counts.clone()
    }

    /// Writes out what it holds (journal, seal, the stop's snapshot) and
    /// ends its thread; blocks until then. The counts stay readable.
    pub fn close(&self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_one();
        self.shared.room.notify_all();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

struct Thread {
    shared: Arc<Shared>,
    writer: StoreWriter,
    opts: StoreOptions,
    /// The kinds of the records pushed and not synced yet, in order.
    kinds: Vec<u8>,
}

const SECOND: i64 = 1_000_000_000;
const HOUR: i64 = 3600 * SECOND;

impl Thread {
    fn run(&mut self) {
        let start = now_ns();
        self.snapshot(Ended::Snapshot);
        self.retain();
        let mut next_sync = start + self.opts.sync_ns;
        let mut next_snapshot = (self.opts.snapshot_ns > 0).then(|| start + self.opts.snapshot_ns);
        let mut next_retain = start + HOUR;
        // After a failed seal, when to try again.
        let mut seal_after = start;
        loop {
            let (batch, stopping) = {
                let mut s = self.shared.lock();
                let mut until = next_sync.min(next_retain);
                if let Some(t) = next_snapshot {
                    until = until.min(t);
                }
                while s.queue.is_empty() && !s.stopping {
                    let wait = until - now_ns();
                    if wait <= 0 {
                        break;
                    }
                    let d = Duration::from_nanos(u64::try_from(wait).unwrap_or(0));
                    s = self
                        .shared
                        .wake
                        .wait_timeout(s, d)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
                // Past the bound, while seals fail, the queue fills instead.
                let room = (2 * self.opts.seal.rows).saturating_sub(self.writer.len());
                let n = s.queue.len().min(room);
                let batch: Vec<(Record, u8)> = s.queue.drain(..n).collect();
                if n > 0 {
                    self.shared.room.notify_all();
                }
                if let Some(new) = s.settings.take() {
                    let dir = std::mem::take(&mut self.opts.dir);
                    self.opts = StoreOptions { dir, ..new };
                    self.writer.set_seal(self.opts.seal);
                    next_sync = next_sync.min(now_ns() + self.opts.sync_ns);
                    next_snapshot =
                        (self.opts.snapshot_ns > 0).then(|| now_ns() + self.opts.snapshot_ns);
                    next_retain = now_ns();
                }
                (batch, s.stopping && s.queue.is_empty())
            };
            let now = now_ns();
            for (r, kind) in batch {
                self.writer.push(r, now);
                self.kinds.push(kind);
            }
            if now >= next_sync || stopping {
                self.sync();
                next_sync = now + self.opts.sync_ns;
            }
            if ((self.writer.due(now) && now >= seal_after) || stopping) && !self.seal() {
                seal_after = now + SECOND;
            }
            if next_snapshot.is_some_and(|t| now >= t) {
                self.snapshot(Ended::Snapshot);
                next_snapshot = Some(now + self.opts.snapshot_ns);
            }
            if now >= next_retain {
                self.retain();
                next_retain = now + HOUR;
            }
            if stopping {
                self.snapshot(Ended::Stopped);
                return;
            }
        }
    }

    fn sync(&mut self) {
        let result = self.writer.sync();
        let kinds = std::mem::take(&mut self.kinds);
        let mut s = self.shared.lock();
        let into = match &result {
            Ok(_) => &mut s.counts.written,
            Err(_) => &mut s.counts.lost,
        };
        for k in kinds {
            into[usize::from(k)] += 1;
        }
        drop(s);
        if let Err(e) = result {
            self.shared.error(&e, "journal");
        }
    }

    /// Seals what the journal holds; false if it failed (it stays journaled, and is tried again).
    fn seal(&mut self) -> bool {
        self.sync();
        match self.writer.seal() {
            Ok(made) => {
                if made.is_some() {
                    self.retain();
                }
                true
            }
            Err(e) => {
                self.shared.error(&e, "seal");
                false
            }
        }
    }

    /// Reads the table and writes it as a snapshot.
    fn snapshot(&mut self, ended: Ended) {
        let at = now_ns();
        let made = dump_table(self.opts.netns.as_deref()).and_then(|table| {
            let mut rows: Vec<Record> = table
                .entries
                .iter()
                .filter_map(|ev| Record::seen(ev, at, ended))
                .filter(|r| self.opts.all || r.translated())
                .collect();
            write_snapshot(&self.opts.dir, at, &mut rows)
        });
        if let Err(e) = made {
            self.shared.error(&e, "snapshot");
        }
    }

    fn retain(&mut self) {
        if let Err(e) = retain(
            &self.opts.dir,
            self.opts.keep_ns,
            self.opts.max_bytes,
            now_ns(),
        ) {
            self.shared.error(&e, "retention");
        }
    }
}

/// Deletes the oldest sealed files (by the latest moment they speak of),
/// whole, until none is older than `keep_ns` and their total is at most
/// `max_bytes` (0: no such limit). Journals are never deleted. Returns the
/// files and bytes deleted.
pub fn retain(dir: &Path, keep_ns: i64, max_bytes: u64, now: i64) -> io::Result<(u64, u64)> {
    if keep_ns == 0 && max_bytes == 0 {
        return Ok((0, 0));
    }
    let store = Contents::of(dir)?;
    let mut total: u64 = store.sealed.iter().map(|s| s.bytes).sum();
    let (mut files, mut bytes) = (0, 0);
    for s in &store.sealed {
        let too_old = keep_ns > 0 && s.holds.last() < now.saturating_sub(keep_ns);
        let too_big = max_bytes > 0 && total > max_bytes;
        if !too_old && !too_big {
            break;
        }
        std::fs::remove_file(&s.path)?;
        // Its day, month and year directories go once empty (remove_dir fails on the others).
        for d in s.path.ancestors().skip(1).take(3) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
        }
        total -= s.bytes;
        files += 1;
        bytes += s.bytes;
    }
    Ok((files, bytes))
}
