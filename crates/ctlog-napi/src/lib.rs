//! The Node.js face of ctlog-core: start a capture, stop it, read its
//! counters. Batches cross as one Buffer each (see ctlog-core's `wire`).
//! Nothing here decodes or decides policy. Entry points that touch data
//! catch panics (`catch_unwind`) so none unwinds into Node; the reader
//! thread catches its own.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ctlog_core::wire::{BatchWriter, Notices};
use ctlog_core::{decode_message, EventType, Messages, Reader, ReaderOptions, Shared, Sink};
use napi::bindgen_prelude::{Buffer, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Error, Result, Status};
use napi_derive::napi;

/// Options of a capture. The daemon passes every field from its config
/// schema; the defaults here serve library users.
#[napi(object)]
pub struct CaptureOptions {
    /// Event types to subscribe to: "new", "update", "destroy".
    /// @default ["new", "update", "destroy"]
    pub events: Option<Vec<String>>,
    /// Socket receive buffer in bytes, set with SO_RCVBUFFORCE.
    /// @default 67108864
    pub rcvbuf: Option<u32>,
    /// Events that may wait for JavaScript before new ones are dropped.
    /// @default 100000
    pub queue_size: Option<u32>,
    /// Events per batch at most.
    /// @default 4096
    pub max_batch: Option<u32>,
    /// NETLINK_BROADCAST_ERROR + NETLINK_NO_ENOBUFS (see README).
    /// @default false
    pub reliable: Option<bool>,
}

/// Counters of a capture since it started.
#[napi(object)]
pub struct CaptureStats {
    /// Events decoded.
    pub received: i64,
    /// Messages that could not be decoded.
    pub decode_errors: i64,
    /// ENOBUFS errors: times the kernel found the receive buffer full.
    pub enobufs: i64,
    /// Events the kernel dropped because the receive buffer was full.
    pub lost: i64,
    /// Events dropped because the queue to JavaScript was full.
    pub dropped: i64,
    /// Batches handed to JavaScript.
    pub batches: i64,
    /// Events handed to JavaScript and not yet consumed.
    pub queued: i64,
    /// Receive buffer size the kernel granted, in bytes.
    pub rcvbuf: i64,
    /// The last decode error, if any.
    pub last_error: Option<String>,
}

type BatchFn = ThreadsafeFunction<Vec<u8>, (), Buffer, Status, false>;

struct JsSink {
    tsfn: BatchFn,
    shared: Arc<Shared>,
}

impl Sink for JsSink {
    fn deliver(&mut self, batch: Vec<u8>, events: u32) -> bool {
        let shared = self.shared.clone();
        // NonBlocking: the reader thread must never wait on JavaScript. The
        // queue is unbounded here; `queue_size` bounds it in the reader.
        let status = self.tsfn.call_with_return_value(
            batch,
            ThreadsafeFunctionCallMode::NonBlocking,
            move |_, _| {
                shared.consumed(events);
                Ok(())
            },
        );
        status == Status::Ok
    }
}

/// A running capture. Its counters stay readable after `stop()`.
#[napi]
pub struct Capture {
    reader: Option<Reader>,
    shared: Arc<Shared>,
    rcvbuf: usize,
}

fn parse_events(names: Option<Vec<String>>) -> Result<Vec<EventType>> {
    let names = names.unwrap_or_else(|| vec!["new".into(), "update".into(), "destroy".into()]);
    names
        .iter()
        .map(|n| match n.as_str() {
            "new" => Ok(EventType::New),
            "update" => Ok(EventType::Update),
            "destroy" => Ok(EventType::Destroy),
            other => Err(Error::new(
                Status::InvalidArg,
                format!("unknown event type {other:?}: allowed are new, update, destroy"),
            )),
        })
        .collect()
}

fn io_error(e: std::io::Error) -> Error {
    let code = match e.raw_os_error() {
        Some(1) => "EPERM",
        Some(13) => "EACCES",
        Some(93) => "EPROTONOSUPPORT",
        _ => "EIO",
    };
    Error::new(Status::GenericFailure, format!("{code}: {e}"))
}

/// Opens the conntrack socket, joins the groups for `events`, and starts the
/// reader thread. `onBatch` is called on the JavaScript thread with one
/// Buffer per batch, in kernel order; the last one has the FINAL flag.
///
/// The reader never waits on JavaScript: when `queueSize` events are
/// handed over and not yet consumed, further batches are dropped and
/// counted. ENOBUFS is counted and reading goes on. Errors opening the
/// socket are thrown here, with the errno name first ("EPERM: ...").
#[napi(catch_unwind)]
pub fn start_capture(
    options: CaptureOptions,
    on_batch: Function<'_, Buffer, ()>,
) -> Result<Capture> {
    let tsfn: BatchFn = on_batch
        .build_threadsafe_function::<Vec<u8>>()
        .callee_handled::<false>()
        .build_callback(|ctx| Ok(Buffer::from(ctx.value)))?;
    let opts = ReaderOptions {
        groups: parse_events(options.events)?,
        rcvbuf: options.rcvbuf.unwrap_or(64 << 20) as usize,
        queue_size: options.queue_size.unwrap_or(100_000).into(),
        max_batch: options.max_batch.unwrap_or(4096),
        reliable: options.reliable.unwrap_or(false),
    };
    let shared = Arc::new(Shared::default());
    let sink = JsSink {
        tsfn,
        shared: shared.clone(),
    };
    let reader = Reader::start(opts, shared.clone(), sink).map_err(io_error)?;
    let rcvbuf = reader.socket().rcvbuf();
    Ok(Capture {
        reader: Some(reader),
        shared,
        rcvbuf,
    })
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

    /// Joins and leaves groups on the same socket (used on reload).
    #[napi]
    pub fn set_events(&self, events: Vec<String>) -> Result<()> {
        let groups = parse_events(Some(events))?;
        match &self.reader {
            Some(r) => r.socket().set_groups(&groups).map_err(io_error),
            None => Err(Error::new(Status::GenericFailure, "capture is stopped")),
        }
    }

    #[napi]
    pub fn stats(&self) -> CaptureStats {
        let s = &self.shared;
        let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as i64;
        CaptureStats {
            received: n(&s.received),
            decode_errors: n(&s.decode_errors),
            enobufs: n(&s.enobufs),
            lost: n(&s.lost),
            dropped: n(&s.dropped),
            batches: n(&s.batches),
            queued: n(&s.in_flight),
            rcvbuf: self.rcvbuf as i64,
            last_error: s.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// Decodes raw netlink bytes (one or more messages, as recv returns them)
/// into one batch, without a socket. For tests and offline tools; a message
/// that cannot be decoded is counted in the batch header.
#[napi(catch_unwind)]
pub fn decode_messages(bytes: Buffer, time_ns: Option<i64>) -> Buffer {
    let mut batch = BatchWriter::new();
    let mut notices = Notices::default();
    let now = time_ns.unwrap_or(0) as u64;
    for msg in Messages::new(&bytes) {
        match msg.and_then(decode_message) {
            Ok(Some(ev)) => batch.push(&ev, now),
            Ok(None) => {}
            Err(_) => notices.decode_errors += 1,
        }
    }
    Buffer::from(batch.finish(notices, false))
}
