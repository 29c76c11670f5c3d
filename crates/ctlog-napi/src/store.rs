//! The store output's native side (`Store`: its own thread writes the
//! files, see ctlog-core's store/service.rs) and lookups (`queryStore`).
//! Events come as the capture's wire bytes, as the output was handed them:
//! nothing of an event is rebuilt in JavaScript for the store.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ctlog_core::kind::kind_of;
use ctlog_core::store::{self, By, Lookup, Record, SealAfter};
use ctlog_core::wire::read_events;
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Result, Task};
use napi_derive::napi;

use crate::error::{errno_name, invalid, io_error};

#[napi(object)]
pub struct StoreOptions {
    pub dir: String,
    /// Keep every connection, not only translated ones.
    pub all: bool,
    /// Milliseconds within which a record is synced to the journal.
    pub sync_ms: u32,
    /// A seal after this many records, or this many seconds after the first.
    pub seal_rows: u32,
    pub seal_seconds: u32,
    /// Seconds between snapshots of the table (0: at start and stop only).
    pub snapshot_seconds: u32,
    /// Retention: days (0: none) and bytes (0: none).
    pub keep_days: u32,
    pub max_bytes: f64,
    /// The network namespace whose table the snapshots read, by its file.
    pub netns: Option<String>,
    /// Records the queue to the store's thread holds.
    pub queue: u32,
}

/// A failure count, by errno name.
#[napi(object)]
pub struct StoreError {
    pub code: String,
    pub count: f64,
}

/// What the store did since it opened; per-kind counts in the order of
/// the capture's kinds.
#[napi(object)]
pub struct StoreCounts {
    pub written: Vec<f64>,
    pub lost: Vec<f64>,
    pub skipped: Vec<f64>,
    pub errors: Vec<StoreError>,
    pub last_error: Option<String>,
}

impl From<StoreOptions> for store::StoreOptions {
    fn from(o: StoreOptions) -> Self {
        const S: i64 = 1_000_000_000;
        store::StoreOptions {
            dir: PathBuf::from(o.dir),
            all: o.all,
            sync_ns: i64::from(o.sync_ms.max(1)) * 1_000_000,
            seal: SealAfter {
                rows: o.seal_rows.max(1) as usize,
                ns: i64::from(o.seal_seconds.max(1)) * S,
            },
            snapshot_ns: i64::from(o.snapshot_seconds) * S,
            keep_ns: i64::from(o.keep_days) * 86_400 * S,
            // A whole number of bytes, from JavaScript's number.
            max_bytes: if o.max_bytes > 0.0 {
                o.max_bytes as u64
            } else {
                0
            },
            netns: o.netns.map(PathBuf::from),
            queue: o.queue.max(1) as usize,
        }
    }
}

fn numbers(v: &[u64]) -> Vec<f64> {
    // Counts of events: far below 2^53.
    v.iter().map(|&n| n as f64).collect()
}

#[napi]
pub struct Store {
    inner: Arc<store::Store>,
}

#[napi]
impl Store {
    /// Opens the store at `options.dir` (made if missing; what a crash
    /// left is recovered now) and starts its thread; throws with `code` the
    /// errno name.
    #[napi(factory, catch_unwind)]
    pub fn open(options: StoreOptions) -> Result<Self, String> {
        let inner = store::Store::open(options.into()).map_err(io_error)?;
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// Applies `options` from now on (a reload); `dir` and `queue` stay as opened.
    #[napi(catch_unwind)]
    pub fn reconfigure(&self, options: StoreOptions) {
        self.inner.reconfigure(options.into());
    }

    /// Takes events as the capture's wire bytes, back to back (what the
    /// output was handed). With `hold`, all of them, past the queue's size
    /// if need be; without, what does not fit is counted lost. Returns
    /// whether the queue has room left (else wait for `writable`). Throws
    /// EINVAL on bytes that are not events (none of them is taken).
    #[napi(catch_unwind)]
    pub fn push(&self, events: &[u8], hold: bool) -> Result<bool, String> {
        let events = read_events(events)
            .map_err(|e| invalid(format!("store: not wire events: {} at {}", e.reason, e.at)))?;
        Ok(self.inner.push(
            events.iter().map(|(ev, time)| {
                let read = i64::try_from(*time).unwrap_or(i64::MAX);
                (Record::of(ev, read), kind_of(ev))
            }),
            hold,
        ))
    }

    /// Resolves true once the queue is down to half its size, false after
    /// `timeoutMs` (a store that stalls). Waits on the libuv thread pool.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn writable(&self, timeout_ms: u32) -> AsyncTask<StoreRoom> {
        AsyncTask::new(StoreRoom {
            inner: Arc::clone(&self.inner),
            timeout_ms,
        })
    }

    #[napi(catch_unwind)]
    pub fn counts(&self) -> StoreCounts {
        let c = self.inner.counts();
        StoreCounts {
            written: numbers(&c.written),
            lost: numbers(&c.lost),
            skipped: numbers(&c.skipped),
            errors: c
                .errors
                .iter()
                .map(|(&errno, &n)| StoreError {
                    code: if errno == 0 {
                        "EIO".into()
                    } else {
                        errno_name(&std::io::Error::from_raw_os_error(errno))
                    },
                    count: n as f64,
                })
                .collect(),
            last_error: c.last_error,
        }
    }

    /// Writes out what it holds (journal, seal, the stop's snapshot) and
    /// ends its thread, on the thread pool; resolves once done. What is
    /// pushed after is counted lost; the counts stay readable.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<CloseStore> {
        AsyncTask::new(CloseStore {
            inner: Arc::clone(&self.inner),
        })
    }
}

pub struct StoreRoom {
    inner: Arc<store::Store>,
    timeout_ms: u32,
}

impl Task for StoreRoom {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> Result<bool> {
        Ok(self
            .inner
            .wait_room(std::time::Duration::from_millis(u64::from(self.timeout_ms))))
    }

    fn resolve(&mut self, _env: Env, output: bool) -> Result<bool> {
        Ok(output)
    }
}

pub struct CloseStore {
    inner: Arc<store::Store>,
}

impl Task for CloseStore {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        self.inner.close();
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

/// A lookup, as `ctlogd query` asks it.
#[napi(object)]
pub struct StoreQuery {
    /// `nat`, `inside` or `dst`.
    pub by: String,
    pub addr: String,
    pub port: Option<u32>,
    /// IPPROTO_* number.
    pub proto: Option<u32>,
    /// ns since the epoch, as decimal text (beyond 2^53).
    pub from_ns: String,
    pub to_ns: String,
}

/// One connection of the store (docs/store.md names the fields).
#[napi(object)]
pub struct StoreRecord {
    /// ns since the epoch, as decimal text.
    pub start_ns: String,
    pub end_ns: Option<String>,
    /// destroy, open, snapshot or stopped.
    pub ended: String,
    /// ipv4 or ipv6.
    pub family: String,
    pub proto: u32,
    pub orig_src: String,
    pub orig_sport: u32,
    pub orig_dst: String,
    pub orig_dport: u32,
    pub nat_src: String,
    pub nat_sport: u32,
    pub nat_dst: String,
    pub nat_dport: u32,
    pub zone: u32,
    pub mark: u32,
    pub id: u32,
    pub orig_packets: Option<f64>,
    pub orig_bytes: Option<f64>,
    pub reply_packets: Option<f64>,
    pub reply_bytes: Option<f64>,
}

impl From<Record> for StoreRecord {
    fn from(r: Record) -> Self {
        // Counters of one flow: far below 2^53.
        let n = |v: Option<u64>| v.map(|v| v as f64);
        StoreRecord {
            start_ns: r.start_ns.to_string(),
            end_ns: r.end_ns.map(|e| e.to_string()),
            ended: r.ended.name().into(),
            family: if r.orig_src.is_ipv4() { "ipv4" } else { "ipv6" }.into(),
            proto: u32::from(r.proto),
            orig_src: r.orig_src.to_string(),
            orig_sport: u32::from(r.orig_sport),
            orig_dst: r.orig_dst.to_string(),
            orig_dport: u32::from(r.orig_dport),
            nat_src: r.nat_src.to_string(),
            nat_sport: u32::from(r.nat_sport),
            nat_dst: r.nat_dst.to_string(),
            nat_dport: u32::from(r.nat_dport),
            zone: u32::from(r.zone),
            mark: r.mark,
            id: r.id,
            orig_packets: n(r.orig_packets),
            orig_bytes: n(r.orig_bytes),
            reply_packets: n(r.reply_packets),
            reply_bytes: n(r.reply_bytes),
        }
    }
}

#[napi(object)]
pub struct StoreFound {
    pub records: Vec<StoreRecord>,
    pub files_read: u32,
    pub row_groups_read: u32,
}

/// A lookup allocates and frees its pages' buffers by the megabyte: glibc
/// gives the top of its heap back to the kernel each time, and the next
/// lookup faults it in again (page faults were a third of a lookup's time).
/// Kept at the top instead, 16 MB at most: lookups take half the time.
/// Once, in a process that queries.
fn keep_heap_top() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only sets a malloc parameter; any value is valid.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_TOP_PAD, 16 << 20);
        });
    }
}

/// Looks `q` up in the store at `dir`; throws with `code` the errno name
/// (ENOENT: no store there), EINVAL for a lookup that is not one.
#[napi(catch_unwind)]
pub fn query_store(dir: String, q: StoreQuery) -> Result<StoreFound, String> {
    keep_heap_top();
    let by = match q.by.as_str() {
        "nat" => By::Nat,
        "inside" => By::Inside,
        "dst" => By::Dst,
        other => return Err(invalid(format!("by: {other:?}"))),
    };
    let addr: IpAddr = q
        .addr
        .parse()
        .map_err(|_| invalid(format!("not an IP address: {:?}", q.addr)))?;
    let port = q
        .port
        .map(|p| u16::try_from(p).map_err(|_| invalid(format!("port {p}"))))
        .transpose()?;
    let proto = q
        .proto
        .map(|p| u8::try_from(p).map_err(|_| invalid(format!("protocol {p}"))))
        .transpose()?;
    let ns = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| invalid(format!("not ns: {s:?}")))
    };
    let lookup = Lookup {
        by,
        addr,
        port,
        proto,
        from_ns: ns(&q.from_ns)?,
        to_ns: ns(&q.to_ns)?,
    };
    let found = store::lookup(std::path::Path::new(&dir), &lookup).map_err(io_error)?;
    Ok(StoreFound {
        records: found.records.into_iter().map(StoreRecord::from).collect(),
        files_read: u32::try_from(found.files_read).unwrap_or(u32::MAX),
        row_groups_read: u32::try_from(found.row_groups_read).unwrap_or(u32::MAX),
    })
}
