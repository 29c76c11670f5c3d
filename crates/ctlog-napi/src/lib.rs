//! The Node.js face of ctlog-core: start a capture, stop it, read its
//! counters; send syslog datagrams. Batches (see ctlog-core's `wire`) are
//! copied into a Buffer that JavaScript owns and reuses, and their memory
//! goes back to the reader: a flood allocates nothing per batch on either
//! side. Nothing here decodes, sends or decides policy: it converts
//! arguments, results and errors (errors carry their errno name as `code`).
//! Entry points that touch data catch panics (`catch_unwind`) so none
//! unwinds into Node; the reader thread catches its own.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ctlog_core::filter::{self, Cond, Mark, Nat, Net};
use ctlog_core::kind::{CLASSES, KINDS};
use ctlog_core::{
    decode_batch, EventType, Filter, ProtoFilter, Reader, ReaderOptions, Sent, Shared, Sink,
};

use napi::bindgen_prelude::{AsyncTask, Buffer, BufferSlice, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Error, Result, Status, Task};
use napi_derive::napi;

/// A capture's settings, for `startCapture` and `reconfigure` alike: the
/// whole set, where an absent field takes its default (ctlog-core's
/// `ReaderOptions::default()`, the library's; the service passes every
/// field from its config schema). Converted once, into `ReaderOptions`.
#[napi(object)]
pub struct CaptureOptions {
    /// Event types to subscribe to: "new", "update", "destroy"; the kernel
    /// sends no others.
    /// @default ["new", "update", "destroy"]
    pub events: Option<Vec<String>>,
    /// Socket receive buffer in bytes, set with SO_RCVBUFFORCE.
    /// @default 268435456
    pub rcvbuf: Option<u32>,
    /// Events handed over and not yet released before the reader pauses
    /// (the kernel's receive buffer holds what comes meanwhile).
    /// @default 16384
    pub queue_size: Option<u32>,
    /// Events per batch at most; taken at start, `reconfigure` keeps it.
    /// @default 4096
    pub max_batch: Option<u32>,
    /// NETLINK_BROADCAST_ERROR + NETLINK_NO_ENOBUFS (see README).
    /// @default false
    pub reliable: Option<bool>,
    /// Per event type, the protocol classes to keep: "tcp", "udp", "icmp"
    /// (IPv4 only), "other"; a type not named keeps all. The kernel drops
    /// the others before they reach the socket (a BPF socket filter).
    pub protocols: Option<ProtocolSets>,
    /// Another network namespace to read, by its file ("/run/netns/NAME",
    /// "/proc/PID/ns/net"): the socket is opened inside it (needs
    /// CAP_SYS_ADMIN too); the process stays where it is. Taken at start:
    /// `reconfigure` with another refuses (EINVAL).
    /// @default the namespace the process is in
    pub netns: Option<String>,
    /// conntrack's filters (`conntrack -E --orig-src ...`), all of which
    /// an event must pass. The kernel checks them before the event is
    /// read; the reader again after decoding, for what the kernel could
    /// not read (counted as `filtered`).
    /// @default none: every event
    pub filter: Option<FilterOptions>,
}

/// conntrack's filters, each optional; every one set must hold, a negated
/// one (`negate: true`) must not.
#[napi(object)]
pub struct FilterOptions {
    /// The original tuple's source address (`--orig-src`).
    pub orig_src: Option<NetMatch>,
    /// `--orig-dst`
    pub orig_dst: Option<NetMatch>,
    /// `--reply-src`
    pub reply_src: Option<NetMatch>,
    /// `--reply-dst`
    pub reply_dst: Option<NetMatch>,
    /// The layer-4 protocol number, 0 to 255 (`--proto`).
    pub proto: Option<NumberMatch>,
    /// The original tuple's source port (`--sport`).
    pub sport: Option<NumberMatch>,
    /// The original tuple's destination port (`--dport`).
    pub dport: Option<NumberMatch>,
    /// `--mark`: the event's mark, masked, is `value`; an event without a
    /// mark matches none.
    pub mark: Option<MarkMatch>,
    /// `--zone`: 0 to 65535; an event without one is in zone 0.
    pub zone: Option<NumberMatch>,
    /// `--status`: IPS_* bits set and clear.
    pub status: Option<StatusMatch>,
    /// `--src-nat`: the source was translated (to `address`, `port`).
    pub src_nat: Option<NatMatch>,
    /// `--dst-nat`: the destination was translated.
    pub dst_nat: Option<NatMatch>,
    /// `--any-nat`: either was.
    pub any_nat: Option<NatMatch>,
}

/// An address, or the prefix it starts.
#[napi(object)]
pub struct NetMatch {
    /// An IPv4 or IPv6 address.
    pub address: String,
    /// Bits of `address` to compare.
    /// @default 32 or 128: the whole address
    pub prefix: Option<u32>,
    pub negate: Option<bool>,
}

#[napi(object)]
pub struct NumberMatch {
    pub value: u32,
    pub negate: Option<bool>,
}

#[napi(object)]
pub struct MarkMatch {
    pub value: u32,
    /// @default 0xffffffff
    pub mask: Option<u32>,
    pub negate: Option<bool>,
}

#[napi(object)]
pub struct StatusMatch {
    /// Bits that must be set.
    pub set: u32,
    /// Bits that must be clear.
    pub clear: u32,
}

#[napi(object)]
pub struct NatMatch {
    /// The address translated to.
    /// @default any
    pub address: Option<String>,
    /// The port translated to.
    /// @default any
    pub port: Option<u32>,
    pub negate: Option<bool>,
}

type Invalid = Error<String>;

fn cond<T>(value: T, negate: Option<bool>) -> Cond<T> {
    Cond {
        value,
        negate: negate.unwrap_or(false),
    }
}

fn ip(what: &str, a: &str) -> std::result::Result<std::net::IpAddr, Invalid> {
    a.parse()
        .map_err(|_| invalid(format!("{what}: not an IP address: {a:?}")))
}

fn narrow<T: TryFrom<u32>>(what: &str, v: u32) -> std::result::Result<T, Invalid> {
    T::try_from(v).map_err(|_| invalid(format!("{what}: out of range: {v}")))
}

fn number<T: TryFrom<u32>>(
    what: &str,
    m: Option<NumberMatch>,
) -> std::result::Result<Option<Cond<T>>, Invalid> {
    m.map(|m| Ok(cond(narrow(what, m.value)?, m.negate)))
        .transpose()
}

impl FilterOptions {
    fn into_filter(self) -> std::result::Result<Filter, Invalid> {
        let net = |what: &str, m: Option<NetMatch>| {
            m.map(|m| {
                let addr = ip(what, &m.address)?;
                let width = if addr.is_ipv4() { 32 } else { 128 };
                let prefix = m.prefix.unwrap_or(width);
                if prefix > width {
                    return Err(invalid(format!(
                        "{what}: prefix {prefix} is longer than the address"
                    )));
                }
                Ok(cond(
                    Net {
                        addr,
                        prefix: prefix as u8,
                    },
                    m.negate,
                ))
            })
            .transpose()
        };
        let nat = |what: &str, m: Option<NatMatch>| {
            m.map(|m| {
                let addr = m.address.as_deref().map(|a| ip(what, a)).transpose()?;
                let port = m.port.map(|p| narrow(what, p)).transpose()?;
                Ok::<_, Invalid>(cond(Nat { addr, port }, m.negate))
            })
            .transpose()
        };
        Ok(Filter {
            orig_src: net("origSrc", self.orig_src)?,
            orig_dst: net("origDst", self.orig_dst)?,
            reply_src: net("replySrc", self.reply_src)?,
            reply_dst: net("replyDst", self.reply_dst)?,
            proto: number("proto", self.proto)?,
            sport: number("sport", self.sport)?,
            dport: number("dport", self.dport)?,
            mark: self.mark.map(|m| {
                cond(
                    Mark {
                        value: m.value,
                        mask: m.mask.unwrap_or(u32::MAX),
                    },
                    m.negate,
                )
            }),
            zone: number("zone", self.zone)?,
            status: self.status.map(|m| filter::Status {
                set: m.set,
                clear: m.clear,
            }),
            src_nat: nat("srcNat", self.src_nat)?,
            dst_nat: nat("dstNat", self.dst_nat)?,
            any_nat: nat("anyNat", self.any_nat)?,
        })
    }
}

/// Protocol classes kept, per event type.
#[napi(object)]
pub struct ProtocolSets {
    pub new: Option<Vec<String>>,
    pub update: Option<Vec<String>>,
    pub destroy: Option<Vec<String>>,
}

fn event_types(names: Vec<String>) -> std::result::Result<Vec<EventType>, Error<String>> {
    names
        .iter()
        .map(|n| {
            EventType::from_name(n).ok_or_else(|| {
                invalid(format!(
                    "unknown event type {n:?}: allowed are new, update, destroy"
                ))
            })
        })
        .collect()
}

fn class_mask(names: Option<Vec<String>>) -> std::result::Result<u8, Error<String>> {
    let Some(names) = names else {
        return Ok(ctlog_core::kind::ALL);
    };
    names.iter().try_fold(0, |mask, n| {
        ctlog_core::kind::class_bit(n)
            .map(|bit| mask | bit)
            .ok_or_else(|| {
                invalid(format!(
                    "unknown protocol class {n:?}: allowed are tcp, udp, icmp, other"
                ))
            })
    })
}

impl TryFrom<CaptureOptions> for ReaderOptions {
    type Error = Error<String>;

    fn try_from(o: CaptureOptions) -> std::result::Result<Self, Self::Error> {
        let d = ReaderOptions::default();
        let protocols = match o.protocols {
            None => d.protocols,
            Some(p) => ProtoFilter([
                class_mask(p.new)?,
                class_mask(p.update)?,
                class_mask(p.destroy)?,
            ]),
        };
        Ok(ReaderOptions {
            groups: o.events.map_or(Ok(d.groups), event_types)?,
            rcvbuf: o.rcvbuf.map_or(d.rcvbuf, |v| v as usize),
            queue_size: o.queue_size.map_or(d.queue_size, u64::from),
            max_batch: o.max_batch.unwrap_or(d.max_batch),
            reliable: o.reliable.unwrap_or(d.reliable),
            protocols,
            filter: o.filter.map_or(Ok(d.filter), FilterOptions::into_filter)?,
            netns: o.netns.map(Into::into),
        })
    }
}

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

/// The errno name JavaScript code tests for (as Node names them).
fn errno_name(e: &std::io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::EACCES) => "EACCES",
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::EAGAIN) => "EAGAIN",
        Some(libc::ECONNREFUSED) => "ECONNREFUSED",
        Some(libc::ENOTCONN) => "ENOTCONN",
        Some(libc::EMSGSIZE) => "EMSGSIZE",
        Some(libc::ENOBUFS) => "ENOBUFS",
        Some(libc::EPROTONOSUPPORT) => "EPROTONOSUPPORT",
        Some(libc::EAFNOSUPPORT) => "EAFNOSUPPORT",
        Some(libc::EBADF) => "EBADF",
        Some(n) => return format!("E{n}"),
        None => "EIO",
    };
    name.to_string()
}

// Errors cross as data: napi-rs makes an `Error<S>`'s status the thrown
// JavaScript error's `code` (any S: AsRef<str>), so the functions below
// return `Result<T, String>` and the status is the errno name, as Node's
// own system errors carry theirs. JavaScript reads `e.code`, never the
// message.

/// A system call's failure: `code` is the errno name; the message keeps
/// Node's form, the name first ("EPERM: Operation not permitted ...").
fn io_error(e: std::io::Error) -> Error<String> {
    let code = errno_name(&e);
    let reason = format!("{code}: {e}");
    Error::new(code, reason)
}

/// A bad argument: `code` is EINVAL, the message says what is wrong.
fn invalid(reason: String) -> Error<String> {
    Error::new("EINVAL".to_string(), reason)
}

/// Takes an exclusive lock on the open file `fd` (flock, LOCK_EX |
/// LOCK_NB): returns true, or false when another open file holds it (a
/// second ctlogd on the same output file); never waits. Other failures
/// are thrown with `code` the errno name. The lock goes with the file
/// description: closing `fd` releases it, and so does the process's end,
/// however it ends.
#[napi(catch_unwind)]
pub fn lock_file(fd: i32) -> Result<bool, String> {
    // SAFETY: flock takes any integer; a bad one fails with EBADF.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(false);
    }
    Err(io_error(e))
}

/// What `sendLines` did.
#[napi(object)]
pub struct SentLines {
    /// Lines sent, from the first.
    pub sent: u32,
    /// The byte offset in `lines` where the first line not sent starts.
    pub at: u32,
    /// The errno name that stopped it at line `sent`, or null when all
    /// were sent.
    pub error: Option<String>,
}

impl From<Sent> for SentLines {
    fn from(s: Sent) -> Self {
        SentLines {
            sent: u32::try_from(s.sent).unwrap_or(u32::MAX),
            at: u32::try_from(s.at).unwrap_or(u32::MAX),
            error: s.error.as_ref().map(errno_name),
        }
    }
}

/// A connected datagram socket for syslog: the local socket (unix, which
/// Node has not) or a remote host over UDP (Node's dgram makes a system call
/// per message; this sends many per call). Non-blocking: a full receiver
/// queue is reported, never waited on in the JavaScript thread
/// (`writable()` waits on the thread pool).
#[napi]
pub struct Datagram {
    sock: Option<Arc<ctlog_core::Datagram>>,
}

#[napi]
impl Datagram {
    /// Connects to the unix datagram socket at `path`; throws an error
    /// whose `code` is the errno name (ENOENT, ECONNREFUSED, ...).
    #[napi(factory, catch_unwind)]
    pub fn unix(path: String) -> Result<Self, String> {
        let sock = ctlog_core::Datagram::unix(path).map_err(io_error)?;
        Ok(Datagram {
            sock: Some(Arc::new(sock)),
        })
    }

    /// Connects a UDP socket to `address` (an IP address, already
    /// resolved) and `port`; throws an error whose `code` is the errno
    /// name (EINVAL for an address or port that is none).
    #[napi(factory, catch_unwind)]
    pub fn udp(address: String, port: u32) -> Result<Self, String> {
        let ip: std::net::IpAddr = address
            .parse()
            .map_err(|_| invalid(format!("not an IP address: {address:?}")))?;
        let port = u16::try_from(port).map_err(|_| invalid(format!("port {port}")))?;
        let sock = ctlog_core::Datagram::udp((ip, port).into()).map_err(io_error)?;
        Ok(Datagram {
            sock: Some(Arc::new(sock)),
        })
    }

    /// Sends `head` followed by each line of `lines` (newline-ended; the
    /// newline is not sent) as one datagram each, in order, many per system
    /// call, from the bytes as they are. Stops at the first that fails:
    /// "EAGAIN" when the receiver's queue is full (see `writable`),
    /// "EMSGSIZE" when a message is too long, "ECONNREFUSED" when the unix
    /// receiver went away or, over UDP, when an ICMP error came back for an
    /// earlier datagram (this one was not sent).
    #[napi(catch_unwind)]
    pub fn send_lines(&self, head: &[u8], lines: &[u8]) -> SentLines {
        match &self.sock {
            Some(s) => s.send_lines(head, lines).into(),
            None => SentLines {
                sent: 0,
                at: 0,
                error: Some("ENOTCONN".into()),
            },
        }
    }

    /// Sends `bytes` as datagrams back to back, the i-th ending at byte
    /// `ends[i]`: binary messages (IPFIX), which may hold newlines. Stops at
    /// the first that fails, as `sendLines` does; `at` is where the first
    /// not sent starts.
    #[napi(catch_unwind)]
    pub fn send_messages(&self, bytes: &[u8], ends: &[u32]) -> SentLines {
        match &self.sock {
            Some(s) => s.send_messages(bytes, ends).into(),
            None => SentLines {
                sent: 0,
                at: 0,
                error: Some("ENOTCONN".into()),
            },
        }
    }

    /// Resolves true once the receiver's queue has room (POLLOUT), false
    /// after `timeoutMs` or when closed. Waits on the libuv thread pool.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn writable(&self, timeout_ms: u32) -> AsyncTask<WaitWritable> {
        AsyncTask::new(WaitWritable {
            sock: self.sock.clone(),
            timeout_ms,
        })
    }

    #[napi]
    pub fn close(&mut self) {
        self.sock = None;
    }
}

/// What the peer of a TCP connection has acknowledged, and what the kernel
/// took to send: the syslog output's count of lines written. Made from a
/// Node socket's descriptor, which it duplicates: it can still be read
/// after the socket closed.
#[napi]
pub struct TcpWatch {
    watch: Option<ctlog_core::TcpWatch>,
}

#[napi]
impl TcpWatch {
    /// Duplicates `fd`, a connected TCP socket's descriptor; throws an
    /// error whose `code` is the errno name (EBADF).
    #[napi(factory, catch_unwind)]
    pub fn of(fd: i32) -> Result<Self, String> {
        if fd < 0 {
            return Err(invalid(format!("not a descriptor: {fd}")));
        }
        // SAFETY: only duplicated, here and now: a descriptor that is not
        // open fails with EBADF, and the duplicate is ours alone.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let watch = ctlog_core::TcpWatch::of(borrowed).map_err(io_error)?;
        Ok(TcpWatch { watch: Some(watch) })
    }

    /// Bytes of data the peer has acknowledged since the connection began
    /// (once the FIN is acknowledged, one more); throws with `code` the errno name (EBADF once
    /// closed, EOPNOTSUPP on a kernel older than 4.1).
    #[napi(catch_unwind)]
    pub fn acked(&self) -> Result<f64, String> {
        let w = self
            .watch
            .as_ref()
            .ok_or_else(|| io_error(std::io::Error::from_raw_os_error(libc::EBADF)))?;
        // Bytes of one connection: far below 2^53.
        w.bytes_acked().map(|n| n as f64).map_err(io_error)
    }

    /// Bytes of data the kernel has taken on this connection since it began,
    /// acknowledged or not (acked() and the send queue, read together): at
    /// a write's callback, where that write ends on the wire, whatever
    /// Node's TLS made of it. Throws as acked() does.
    #[napi(catch_unwind)]
    pub fn sent(&self) -> Result<f64, String> {
        let w = self
            .watch
            .as_ref()
            .ok_or_else(|| io_error(std::io::Error::from_raw_os_error(libc::EBADF)))?;
        // Bytes of one connection: far below 2^53.
        w.bytes_sent().map(|n| n as f64).map_err(io_error)
    }

    /// Lets the connection go: once Node has closed its descriptor too, the
    /// kernel closes the socket.
    #[napi]
    pub fn close(&mut self) {
        self.watch = None;
    }
}

pub struct WaitWritable {
    sock: Option<Arc<ctlog_core::Datagram>>,
    timeout_ms: u32,
}

impl Task for WaitWritable {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> Result<bool> {
        Ok(self
            .sock
            .as_ref()
            .is_some_and(|s| s.writable(self.timeout_ms)))
    }

    fn resolve(&mut self, _env: Env, output: bool) -> Result<bool> {
        Ok(output)
    }
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
