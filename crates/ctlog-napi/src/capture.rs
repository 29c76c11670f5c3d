//! A capture: `startCapture` and the `Capture` it returns (take, release,
//! reconfigure, stop), its counters (`CaptureStats`), the hand-over of
//! batches from the reader thread, and `decodeMessages` for bytes without
//! a socket.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ctlog_core::kind::{CLASSES, KINDS};
use ctlog_core::{decode_batch, EventType, Reader, ReaderOptions, Shared, Sink};
use napi::bindgen_prelude::{Buffer, BufferSlice, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Error, Result, Status};
use napi_derive::napi;

use crate::error::{errno_name, io_error};
use crate::options::CaptureOptions;

/// A count per event type.
#[napi(object)]
pub struct TypeCounts {
    pub new: i64,
    pub update: i64,
    pub destroy: i64,
}

impl TypeCounts {
    /// The sums per type of counts per kind (`kinds`).
    fn of(kinds: &[i64]) -> Self {
        let n = |t: EventType| {
            let per = CLASSES.len();
            kinds[t.index() * per..(t.index() + 1) * per].iter().sum()
        };
        TypeCounts {
            new: n(EventType::New),
            update: n(EventType::Update),
            destroy: n(EventType::Destroy),
        }
    }
}

fn kinds(a: &[AtomicU64; KINDS]) -> Vec<i64> {
    a.iter().map(|n| n.load(Ordering::Relaxed) as i64).collect()
}

/// Counters of a capture since it started.
#[napi(object)]
pub struct CaptureStats {
    /// Events decoded, per type.
    pub received: TypeCounts,
    /// Events decoded, per type and protocol class: 12 counts, new tcp,
    /// new udp, new icmp, new other, then update's four, then destroy's.
    pub received_by_kind: Vec<i64>,
    /// Messages that could not be decoded.
    pub decode_errors: i64,
    /// ENOBUFS errors: times the kernel found the receive buffer full.
    pub enobufs: i64,
    /// Events the kernel dropped because the receive buffer was full.
    pub lost: i64,
    /// In reliable mode: deliveries the kernel could not make because the
    /// receive buffer was full. It retries DESTROY events; NEW and UPDATE
    /// events among these may be lost.
    pub undelivered: i64,
    /// Events read but never handed over (JavaScript was shutting down), per type.
    pub dropped: TypeCounts,
    /// The same per type and protocol class, as `receivedByKind`.
    pub dropped_by_kind: Vec<i64>,
    /// Events decoded and not kept by the filter (`filter`), per type and
    /// protocol class, as `receivedByKind`; they count as received too.
    /// What the kernel drops is never read, nor counted.
    pub filtered_by_kind: Vec<i64>,
    /// Batches handed to JavaScript.
    pub batches: i64,
    /// Events handed to JavaScript and not yet consumed.
    pub queued: i64,
    /// Receive buffer size the kernel granted, in bytes.
    pub rcvbuf: i64,
    /// Bytes in the receive buffer not yet read (the kernel's count
    /// against `rcvbuf`); 0 once stopped.
    pub backlog: i64,
    /// The last decode error, if any.
    pub last_error: Option<String>,
}

/// Called with the byte length of the batch waiting for `take`.
type BatchFn = ThreadsafeFunction<u32, (), u32, Status, false>;

/// Spare batch memory kept for the reader: enough for the batches that are
/// usually in flight at once.
const SPARES: usize = 4;

/// Batches handed over and not yet taken, in order, and the memory of
/// taken ones, for the reader to write the next batches into.
#[derive(Default)]
struct Handoff {
    queue: Mutex<VecDeque<Vec<u8>>>,
    spare: Mutex<Vec<Vec<u8>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct JsSink {
    tsfn: BatchFn,
    handoff: Arc<Handoff>,
}

impl Sink for JsSink {
    fn deliver(&mut self, batch: Vec<u8>) -> bool {
        let len = u32::try_from(batch.len()).unwrap_or(u32::MAX);
        lock(&self.handoff.queue).push_back(batch);
        // NonBlocking: the reader thread must never wait on JavaScript. The
        // queue is unbounded here; `queue_size` bounds it in the reader, and
        // JavaScript calls `release` once a batch's lines are written.
        if self.tsfn.call(len, ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok {
            return true;
        }
        // Only this thread adds to the queue: the last one is this batch.
        lock(&self.handoff.queue).pop_back();
        false
    }

    fn spare(&mut self) -> Option<Vec<u8>> {
        lock(&self.handoff.spare).pop()
    }
}

/// A running capture. Its counters stay readable after `stop()`.
#[napi]
pub struct Capture {
    reader: Option<Reader>,
    shared: Arc<Shared>,
    handoff: Arc<Handoff>,
    rcvbuf: usize,
}

/// Opens the conntrack socket, joins the groups for `events`, and starts the
/// reader thread. `onBatch` is called on the JavaScript thread once per
/// batch, in kernel order, with the batch's byte length: it must then
/// `take` that batch. The last batch has the FINAL flag.
///
/// The reader never waits on JavaScript: when `queueSize` events are
/// handed over and not yet released, it stops reading and the socket's
/// buffer holds what comes. ENOBUFS is counted and reading goes on. Errors
/// opening the socket are thrown here, with `code` the errno name (EPERM
/// without CAP_NET_ADMIN; EINVAL for an unknown event type) and the
/// system's words as the message.
#[napi(catch_unwind)]
pub fn start_capture(
    options: CaptureOptions,
    on_batch: Function<'_, u32, ()>,
) -> Result<Capture, String> {
    let tsfn: BatchFn = on_batch
        .build_threadsafe_function::<u32>()
        .callee_handled::<false>()
        .build_callback(|ctx| Ok(ctx.value))
        // No errno fits; EIO is what CaptureError has always said then.
        .map_err(|e| Error::new("EIO".to_string(), e.reason))?;
    let opts = ReaderOptions::try_from(options)?;
    let shared = Arc::new(Shared::default());
    let handoff = Arc::new(Handoff::default());
    let sink = JsSink {
        tsfn,
        handoff: handoff.clone(),
    };
    // The message without the errno name first: CaptureError keeps the
    // two apart (its `code`, and a message after "cannot open ...: ").
    let reader = Reader::start(opts, shared.clone(), sink)
        .map_err(|e| Error::new(errno_name(&e), e.to_string()))?;
    let rcvbuf = reader.socket().rcvbuf();
    Ok(Capture {
        reader: Some(reader),
        shared,
        handoff,
        rcvbuf,
    })
}

/// A method called after `stop()`: no errno fits, so the code stays what
/// napi-rs said before ("GenericFailure").
fn stopped() -> Error<String> {
    let code = Status::GenericFailure.as_ref().to_string();
    Error::new(code, "capture is stopped")
}

#[napi]
impl Capture {
    /// Stops reading: what the socket holds is read and handed over in a
    /// final batch, then the socket is closed. Returns once the reader
    /// thread has ended; the final batch arrives on a later tick.
    #[napi]
    pub fn stop(&mut self) {
        if let Some(mut r) = self.reader.take() {
            r.stop();
        }
    }

    /// Copies the oldest batch not yet taken into `into` and returns its
    /// length; returns minus its length, taking nothing, when `into` is too
    /// small, and 0 when no batch waits.
    #[napi(catch_unwind)]
    pub fn take(&self, mut into: BufferSlice<'_>) -> i64 {
        let mut queue = lock(&self.handoff.queue);
        let Some(len) = queue.front().map(Vec::len) else {
            return 0;
        };
        if len > into.len() {
            return -(len as i64);
        }
        let Some(batch) = queue.pop_front() else {
            return 0;
        };
        drop(queue);
        into[..len].copy_from_slice(&batch);
        let mut spare = lock(&self.handoff.spare);
        if spare.len() < SPARES {
            spare.push(batch);
        }
        len as i64
    }

    /// Gives back `events` places in the queue: the events of a batch are
    /// written (or otherwise done with). Until then they count against
    /// `queueSize`, so a slow output holds the reader back, not memory.
    /// Giving back more than are held gives back what is held, no more.
    #[napi]
    pub fn release(&self, events: u32) {
        self.shared.consumed(events);
    }

    /// Applies new settings to the running capture, on the same socket
    /// (reload): the whole set, as for `startCapture` (an absent field
    /// takes its default). Groups are joined and left, the kernel's
    /// protocol filter replaced; nothing queued is lost.
    #[napi]
    pub fn reconfigure(&mut self, options: CaptureOptions) -> Result<(), String> {
        let opts = ReaderOptions::try_from(options)?;
        let r = self.reader.as_ref().ok_or_else(stopped)?;
        r.reconfigure(&opts).map_err(io_error)?;
        self.rcvbuf = r.socket().rcvbuf();
        Ok(())
    }

    #[napi]
    pub fn stats(&self) -> CaptureStats {
        let s = &self.shared;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed) as i64;
        let received = kinds(&s.received);
        let dropped = kinds(&s.dropped);
        let backlog = self
            .reader
            .as_ref()
            .and_then(|r| r.socket().backlog().ok())
            .unwrap_or(0);
        CaptureStats {
            received: TypeCounts::of(&received),
            received_by_kind: received,
            decode_errors: n(&s.decode_errors),
            enobufs: n(&s.enobufs),
            lost: n(&s.lost),
            undelivered: n(&s.undelivered),
            dropped: TypeCounts::of(&dropped),
            dropped_by_kind: dropped,
            filtered_by_kind: kinds(&s.filtered),
            batches: n(&s.batches),
            queued: n(&s.in_flight),
            rcvbuf: self.rcvbuf as i64,
            backlog: backlog.into(),
            last_error: s.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// Decodes raw netlink bytes (one or more messages, as recv returns them)
/// into one batch, without a socket. For tests and offline tools; a message
/// that cannot be decoded is counted in the batch header.
#[napi(catch_unwind)]
pub fn decode_messages(bytes: Buffer, time_ns: Option<i64>) -> Buffer {
    Buffer::from(decode_batch(&bytes, time_ns.unwrap_or(0) as u64))
}
