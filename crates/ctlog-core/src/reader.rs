//! The reader thread: drains the socket, decodes, and hands batches to a
//! [`Sink`] without ever waiting on it.
//!
//! Delivery contract:
//! - Order: events reach the sink in the order the kernel queued them.
//! - Batching: a batch is handed over when it holds `max_batch` events, or
//!   when the socket is empty and the sink has consumed every batch before
//!   it. So a trickle is seen at once, and while the sink is busy the next
//!   batch grows instead of queueing behind it: a flood crosses in few,
//!   large batches, and the per-batch costs on the other side (a call into
//!   JavaScript, a write) shrink as the load grows.
//! - Gathering: a read from an idle socket that found fewer than
//!   `GATHER_BELOW` (64) events keeps them for `GATHER_MS` (50 ms) and reads again
//!   before it hands them over (once: an event waits at most that long
//!   here). So a trickle crosses in one batch per 50 ms, not one per event.
//! - Linger: after a read that found events the thread lets the socket fill
//!   for `LINGER_MS` (16 ms) before it looks again. An event reaches the
//!   sink at most about 66 ms after the kernel made it (the gathering, the
//!   linger), plus the sink's own wait; at stop none waits.
//! - Backpressure: at most `queue_size` events may be handed over and not yet
//!   consumed ([`Shared::consumed`]). When a batch would exceed that, the
//!   thread keeps it and stops reading the socket until there is room: the
//!   kernel's receive buffer holds what comes meanwhile, outside this
//!   process, and only when that is full too does the kernel drop events
//!   (counted as `lost`, below). Dropping here instead would lose events the
//!   kernel could still have held, and would defeat reliable mode, where the
//!   kernel keeps and retries DESTROY events it could not deliver. The
//!   thread never blocks on the sink: it checks for room every few ms.
//! - Overflow: when the kernel reports ENOBUFS (the receive buffer was full),
//!   reading goes on; the error is counted and the exact number of messages
//!   the kernel dropped is read from the socket (`lost`). In reliable mode
//!   the same counter counts deliveries the kernel will retry (DESTROY) or
//!   fold into a later event: those are `undelivered`, not `lost`.
//! - A message that cannot be decoded is counted (`decode_errors`), its text
//!   kept as `last_error`, and the rest of the read is still decoded.
//! - Stop: the thread drains what the socket already holds, hands it over
//!   whatever the queue holds (the last batch has flag FINAL), and exits;
//!   the socket closes with it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::conntrack_filter::Filter;
use crate::decode::{decode_message, DecodeError, Messages};
use crate::event::{Event, EventType};
use crate::kind::{kind_of, ProtoFilter, KINDS};
use crate::netns::Netns;
use crate::progname::Prognames;
use crate::socket::{CtSocket, DropCount, RecvSlots};
use crate::wire::{BatchWriter, Notices};

mod state;
#[cfg(test)]
mod tests;

use state::{Handover, Offer, Poll, State, Turn, Woken};

/// A paused reader is woken when places are given back; this is a fallback.
const ROOM_POLL_MS: i32 = 100;

/// An idle reader wakes this often to notice kernel drops (state::Poll):
/// those of an overrun that ended the traffic, which no later read would
/// see (reliable mode gets no ENOBUFS). Every read looks too, and so does
/// the stop. 5 s, not 1: an idle ctlogd then wakes 12 times a minute once
/// V8's start-up work is done, and such drops are reported within 5 s.
const IDLE_POLL_MS: i32 = 5000;

/// After a read that found events, the reader lets the socket fill this
/// long before it looks again. Woken for every event of a flood, it would
/// spend more on wake-ups and system calls than on events; this way each
/// look takes thousands of them, and each batch to JavaScript too. The
/// kernel's receive buffer holds what comes meanwhile (at 200,000 events/s,
/// about 1 MiB); a log line is late by this much at most. 16 ms, not 4:
/// a flood's batches then cost what they did when they were gathered
/// (bench scenario a, 3.0 s for 1,000,000 events, 114 wake-ups a second,
/// not 326 with 4 ms), and a line is written within about 60 ms (p99).
const LINGER_MS: i32 = 16;

/// A few events from an idle socket wait this long for more before they
/// are handed over (state::State::Gathering). Every batch costs the
/// JavaScript side a wake-up and a write whatever it holds: at 200 events
/// a second one per event was most of ctlogd's CPU. 50 ms (and the
/// linger after it) cost about half what 25 ms did at 200 events a second
/// (bench scenario s: about 15 batches a second, not 40), and keep a line
/// within the 100 ms an operator watching a log would notice.
const GATHER_MS: i32 = 50;

/// Messages per recvmmsg: one system call for up to this many events.
const RECV_SLOTS: usize = 64;

/// Only a batch of fewer events than this is gathered: a trickle. A read
/// that finds more, after a linger, is a flood's (4,000 events a second
/// and up): its batch goes at once, since it holds enough to pay for its
/// crossing, and gathering it only made each line later (50 to 100 ms at
/// 50,000 events a second, bench scenario a with --rate).
const GATHER_BELOW: u32 = RECV_SLOTS as u32;
/// One event per slot: ctnetlink events are a few hundred bytes, this holds
/// the largest with room to spare.
const RECV_SLOT: usize = 8192;

/// A capture's settings, for start and for reconfigure alike. The
/// defaults are the library's; the service's come from its config schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderOptions {
    pub groups: Vec<EventType>,
    /// Bytes asked for with SO_RCVBUFFORCE.
    pub rcvbuf: usize,
    /// Events that may wait between the socket and the sink.
    pub queue_size: u64,
    /// Events per batch at most (taken at start; reconfigure keeps it).
    pub max_batch: u32,
    /// NETLINK_BROADCAST_ERROR + NETLINK_NO_ENOBUFS.
    pub reliable: bool,
    /// Protocols kept per event type, filtered in the kernel.
    pub protocols: ProtoFilter,
    /// conntrack's filters: the kernel drops what it can tell (bpf.rs),
    /// the reader the rest, after decoding (counted as `filtered`).
    pub filter: Filter,
    /// The network namespace to read, by its file (/run/netns/NAME); None:
    /// the process's own. Taken at start: reconfigure cannot change it.
    pub netns: Option<PathBuf>,
}

impl Default for ReaderOptions {
    /// Every event type and protocol; a 256 MiB receive buffer, which
    /// loses nothing in the benchmark's floods (docs/benchmarks.md);
    /// batches of up to 4,096 events, and a queue of two of them: one
    /// that JavaScript writes while the reader fills the next. More only
    /// holds more memory in a burst (about 0.5 MB a batch of DESTROY).
    fn default() -> Self {
        ReaderOptions {
            groups: EventType::ALL.to_vec(),
            rcvbuf: 256 << 20,
            queue_size: 8192,
            max_batch: 4096,
            reliable: false,
            protocols: ProtoFilter::default(),
            filter: Filter::default(),
            netns: None,
        }
    }
}

/// The sink receives finished batches on the reader thread. It must not
/// block: queue the batch and return. `false` means it could not take it.
/// Whoever consumes the batch gives its places back with [`Shared::consumed`].
pub trait Sink: Send + 'static {
    fn deliver(&mut self, batch: Vec<u8>) -> bool;

    /// A batch's memory the consumer is done with, to write the next into.
    fn spare(&mut self) -> Option<Vec<u8>> {
        None
    }
}

/// Counters shared between the reader thread, the sink and the owner.
/// What the reader keeps of what it decoded: the config's protocol classes
/// per event type and conntrack's filters. The kernel's socket filter holds
/// both, but keeps what it cannot classify (an attribute layout it does not
/// walk): the reader holds the whole filter, so nothing after it filters.
#[derive(Default)]
pub struct ReadFilter {
    protocols: ProtoFilter,
    filter: Filter,
}

impl ReadFilter {
    pub fn of(opts: &ReaderOptions) -> Self {
        ReadFilter {
            protocols: opts.protocols,
            filter: opts.filter.clone(),
        }
    }

    /// True when it keeps every event: nothing to check.
    pub fn keeps_all(&self) -> bool {
        self.protocols.keeps_all() && self.filter.is_empty()
    }

    pub fn keeps(&self, ev: &Event) -> bool {
        self.protocols.keeps(ev.kind, ev.orig.proto)
            && (self.filter.is_empty() || self.filter.keeps(ev))
    }
}

#[derive(Default)]
pub struct Shared {
    /// Per event type and protocol class (kind::kind_of).
    pub received: [AtomicU64; KINDS],
    pub decode_errors: AtomicU64,
    pub enobufs: AtomicU64,
    /// Per event type and protocol class (kind::kind_of).
    pub dropped: [AtomicU64; KINDS],
    /// Events decoded and not kept by the filter, per kind; counted in
    /// `received` too. What the kernel's socket filter drops is never read.
    pub filtered: [AtomicU64; KINDS],
    /// What the reader keeps; reconfigure replaces it.
    filter: Mutex<Arc<ReadFilter>>,
    pub lost: AtomicU64,
    /// Drops counted while in reliable mode (see wire::Notices).
    pub undelivered: AtomicU64,
    /// Reliable mode is on: the socket's drop counter counts deliveries
    /// the kernel retries, not lost events.
    pub reliable: AtomicBool,
    pub batches: AtomicU64,
    pub in_flight: AtomicU64,
    /// The bound on `in_flight`; may change while running.
    pub queue_size: AtomicU64,
    /// An eventfd the reader waits on while paused; `consumed` signals it.
    room: OnceLock<OwnedFd>,
    /// The reader is waiting for room (only then is `room` signalled).
    waiting: AtomicBool,
    pub last_error: Mutex<Option<String>>,
}

impl Shared {
    /// The sink calls this once the events of a batch are consumed. More
    /// than are in flight (a caller's mistake) gives back what is in
    /// flight and no more: `in_flight` never wraps, which would let the
    /// reader hand over batches without bound.
    pub fn consumed(&self, events: u32) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_sub(events.into()))
            });
        if !self.waiting.load(Ordering::SeqCst) {
            return;
        }
        if let Some(fd) = self.room.get() {
            // A failed write only delays a paused reader to its next timeout.
            signal(fd.as_raw_fd());
        }
    }

    fn set_error(&self, e: String) {
        *lock(&self.last_error) = Some(e);
    }
}

pub struct Reader {
    socket: Arc<CtSocket>,
    netns: Option<PathBuf>,
    shared: Arc<Shared>,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    /// Opens the socket (in `netns`, if given) and starts the reader
    /// thread. Errors opening the socket (EPERM without CAP_NET_ADMIN, or
    /// without CAP_SYS_ADMIN to enter `netns`) are returned here, before
    /// the reader starts.
    pub fn start<S: Sink>(opts: ReaderOptions, shared: Arc<Shared>, sink: S) -> io::Result<Self> {
        let netns = opts.netns.as_deref().map(Netns::open).transpose()?;
        let open = || {
            CtSocket::open(
                &opts.groups,
                opts.rcvbuf,
                opts.reliable,
                &opts.protocols,
                &opts.filter,
            )
        };
        *lock(&shared.filter) = Arc::new(ReadFilter::of(&opts));
        let socket = Arc::new(match &netns {
            Some(ns) => ns.run(open)?,
            None => open()?,
        });
        shared.queue_size.store(opts.queue_size, Ordering::Relaxed);
        shared.reliable.store(opts.reliable, Ordering::Relaxed);
        let wake = eventfd()?;
        let _ = shared.room.set(eventfd()?);
        let room = shared.room.get().map_or(-1, |fd| fd.as_raw_fd());
        let mut ctx = Loop {
            socket: socket.clone(),
            shared: shared.clone(),
            wake: wake.as_raw_fd(),
            room,
            sink,
            batch: BatchWriter::new(),
            notices: Notices::default(),
            drops: DropCount::default(),
            max_batch: opts.max_batch.max(1),
            slots: RecvSlots::new(RECV_SLOTS, RECV_SLOT),
            prognames: Prognames::default(),
            filter: Arc::default(),
            state: State::default(),
        };
        let thread = std::thread::Builder::new()
            .name("ctlog-reader".into())
            .spawn(move || {
                // The reader lives in the namespace it reads, so that the
                // processes named in its events are looked up among that
                // namespace's sockets (progname.rs). It entered it once
                // already; failing now costs only those names.
                if let Some(ns) = netns {
                    let _ = ns.enter();
                }
                ctx.run()
            })?;
        Ok(Reader {
            socket,
            netns: opts.netns,
            shared,
            wake,
            thread: Some(thread),
        })
    }

    pub fn socket(&self) -> &CtSocket {
        &self.socket
    }

    /// Applies new settings to the running capture, on the same socket
    /// (reload): the protocol filter, the groups (joined and left), the
    /// receive buffer, reliable mode and the queue size. Nothing queued is
    /// lost. On an error the settings before it are applied already.
    pub fn reconfigure(&self, opts: &ReaderOptions) -> io::Result<()> {
        if opts.netns != self.netns {
            // Another namespace is another socket: a new Reader.
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        self.socket.set_filter(&opts.protocols, &opts.filter)?;
        *lock(&self.shared.filter) = Arc::new(ReadFilter::of(opts));
        self.socket.set_groups(&opts.groups)?;
        self.socket.set_rcvbuf(opts.rcvbuf)?;
        self.socket.set_reliable(opts.reliable)?;
        self.shared
            .queue_size
            .store(opts.queue_size, Ordering::Relaxed);
        self.shared.reliable.store(opts.reliable, Ordering::Relaxed);
        Ok(())
    }

    /// Asks the thread to stop, and waits for it to hand over its final
    /// batch and exit.
    pub fn stop(&mut self) {
        signal(self.wake.as_raw_fd());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A lock whose holder panicked is still good: its values are whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers; a negative result is handled below.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by eventfd (not negative, checked
    // above) and nothing else owns it: the OwnedFd is its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn signal(fd: i32) {
    let one: u64 = 1;
    // SAFETY: writes the 8 bytes of a live local u64, which is what an
    // eventfd takes; a bad or closed fd only makes the write fail.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// The decode loop, the one both the reader and [`decode_batch`] run:
/// each netlink message of `read` (one or more, as recv returns them) is
/// decoded and written into `batch` at time `now`, if `seen`, which has
/// the event first (to add what the message does not say, count it and
/// filter it), keeps it; a message that cannot be decoded goes to
/// `failed` and the rest of the read is still decoded.
fn decode_into(
    batch: &mut BatchWriter,
    read: &[u8],
    now: u64,
    mut seen: impl FnMut(&mut Event) -> bool,
    mut failed: impl FnMut(DecodeError),
) {
    for msg in Messages::new(read) {
        match msg.and_then(decode_message) {
            Ok(Some(mut ev)) => {
                if seen(&mut ev) {
                    batch.push(&ev, now);
                }
            }
            Ok(None) => {}
            Err(e) => failed(e),
        }
    }
}

/// Decodes raw netlink bytes (one or more messages, as recv returns them)
/// into one batch with no socket and no reader, for tests and offline
/// tools: every event at `time_ns`, no program names (the processes are
/// not this host's now), a message that cannot be decoded counted in the
/// batch header.
pub fn decode_batch(read: &[u8], time_ns: u64) -> Vec<u8> {
    let mut batch = BatchWriter::new();
    let mut notices = Notices::default();
    decode_into(
        &mut batch,
        read,
        time_ns,
        |_| true,
        |_| notices.decode_errors += 1,
    );
    batch.finish(notices, false, None)
}

fn decode_error(notices: &mut Notices, shared: &Shared, e: String) {
    notices.decode_errors += 1;
    shared.decode_errors.fetch_add(1, Ordering::Relaxed);
    shared.set_error(e);
}

/// What the loop needs of its socket: [`CtSocket`] in service, a fake in
/// the unit tests. The loop is generic over it, so the calls are as direct
/// as on the concrete socket.
trait Source: Send + Sync + 'static {
    /// Non-blocking: up to `max` messages into `slots` (as many as fit);
    /// 0 when there are none.
    fn recv_many(&self, slots: &mut RecvSlots, max: usize) -> io::Result<usize>;
    /// Messages dropped so far because the receive buffer was full: the
    /// kernel's counter, which wraps (see [`DropCount`]).
    fn drops(&self) -> io::Result<u32>;
    /// Readable when there is something to receive.
    fn fd(&self) -> RawFd;
}

impl Source for CtSocket {
    fn recv_many(&self, slots: &mut RecvSlots, max: usize) -> io::Result<usize> {
        CtSocket::recv_many(self, slots, max)
    }

    fn drops(&self) -> io::Result<u32> {
        CtSocket::drops(self)
    }

    fn fd(&self) -> RawFd {
        CtSocket::fd(self)
    }
}

struct Loop<S: Sink, K: Source> {
    socket: Arc<K>,
    shared: Arc<Shared>,
    wake: i32,
    /// Signalled when queue places are given back (Shared::room).
    room: i32,
    sink: S,
    batch: BatchWriter,
    notices: Notices,
    /// The socket's drop counter as last read.
    drops: DropCount,
    max_batch: u32,
    slots: RecvSlots,
    prognames: Prognames,
    /// Shared::filter as the last read found it.
    filter: Arc<ReadFilter>,
    /// What the next poll waits for; every decision is state.rs's.
    state: State,
}

impl<S: Sink, K: Source> Loop<S, K> {
    fn run(&mut self) {
        while self.turn() {}
    }

    /// One poll and what follows it; false once the thread is done.
    fn turn(&mut self) -> bool {
        let woken = match self.state.poll() {
            Some(poll) => self.wait(poll),
            None => Woken::Stop,
        };
        match self.state.woken(woken) {
            Turn::Poll => true,
            Turn::Retry => {
                // Read on only once the batch kept is handed over; until
                // then the kernel's receive buffer holds what comes.
                if self.hand_over(Offer::now) != Handover::Pause {
                    self.read_and_settle();
                }
                true
            }
            Turn::Read => {
                self.read_and_settle();
                true
            }
            Turn::Finish => {
                self.read();
                self.check_lost(); // its count goes out with the final batch
                self.deliver_final();
                false
            }
        }
    }

    /// Reads the socket empty, then hands the batch over, holds it or
    /// pauses, and waits accordingly.
    fn read_and_settle(&mut self) {
        // A gathering's batch was found by the read before it: the linger
        // follows its handover as it follows any read that found events.
        let gathered = self.state == State::Gathering;
        let found = self.read() || gathered;
        let limit = self.batch_limit();
        if self.state.gathers(found, self.offer(), limit) {
            self.state.gather();
            return;
        }
        let handover = self.hand_over(|offer| offer.settle(limit));
        self.state.read(found, handover);
    }

    /// Drains the socket (see `drain`); true when a read found events.
    fn read(&mut self) -> bool {
        // A panic in decoding must not take the thread (or Node) down:
        // it is counted as a decode error and reading goes on.
        let drained = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.drain()));
        drained.unwrap_or_else(|_| {
            // `drain` had the slots out, and they went with the unwind:
            // without new ones no read would take anything again.
            self.slots = RecvSlots::new(RECV_SLOTS, RECV_SLOT);
            self.batch.discard();
            self.notices.decode_errors += 1;
            self.shared.decode_errors.fetch_add(1, Ordering::Relaxed);
            self.shared
                .set_error("decoder panicked; batch discarded".into());
            true // what panicked was decoding what a read found
        })
    }

    /// Waits as `poll` says, for the stop signal and what else it names.
    /// After an idle timeout, looks for kernel drops even with no traffic.
    fn wait(&mut self, poll: Poll) -> Woken {
        let pollfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [pollfd(self.wake), pollfd(-1), pollfd(-1)];
        let mut n = 1;
        if poll.room {
            fds[n] = pollfd(self.room);
            n += 1;
        }
        if poll.socket {
            fds[n] = pollfd(self.socket.fd());
            n += 1;
        }
        // SAFETY: `n` is 1 to 3, at most the length of the live local `fds`.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, poll.timeout_ms) };
        if r == 0 && poll.idle_check {
            self.check_lost();
        }
        if poll.room && fds[1].revents != 0 {
            let mut count = 0u64;
            // Reset the eventfd; its count does not matter.
            // SAFETY: reads 8 bytes into a live local u64, an eventfd's
            // counter size; failure (EAGAIN) leaves it untouched.
            unsafe { libc::read(self.room, (&mut count as *mut u64).cast(), 8) };
        }
        if r > 0 && fds[0].revents != 0 {
            Woken::Stop
        } else {
            Woken::Look
        }
    }

    /// Reads until the socket is empty, handing full batches over on the
    /// way; stops early when a full batch finds no room (unless stopping).
    /// True when a read found events.
    fn drain(&mut self) -> bool {
        // The slots are moved out while their messages are decoded, so the
        // loop can update its own counters meanwhile.
        let mut slots = std::mem::replace(&mut self.slots, RecvSlots::new(0, 0));
        // A reconfigured filter applies from the next read on.
        self.filter = lock(&self.shared.filter).clone();
        let mut found = false;
        loop {
            let limit = self.batch_limit();
            if self.batch.len() >= limit {
                let state = self.state;
                if self.hand_over(|offer| state.full(offer)) == Handover::Pause {
                    break;
                }
            }
            let max = state::read_max(limit, self.batch.len());
            match self.socket.recv_many(&mut slots, max) {
                Ok(0) => break,
                Ok(n) => {
                    found = true;
                    // One time for the events of one system call.
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_nanos() as u64)
                        .unwrap_or(0);
                    for i in 0..n {
                        match slots.get(i) {
                            Ok(msg) => self.decode_read(msg, now),
                            Err(len) => self.decode_error(format!(
                                "a message of {len}+ bytes did not fit {RECV_SLOT} bytes"
                            )),
                        }
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.notices.enobufs += 1;
                    self.shared.enobufs.fetch_add(1, Ordering::Relaxed);
                    self.check_lost();
                }
                Err(e) => {
                    // Not expected on a bound netlink socket; report it and
                    // wait for the next poll rather than spin.
                    self.decode_error(format!("recv: {e}"));
                    break;
                }
            }
        }
        self.slots = slots;
        found
    }

    fn decode_read(&mut self, read: &[u8], now: u64) {
        let Loop {
            batch,
            prognames,
            shared,
            notices,
            filter,
            ..
        } = self;
        let filter = (!filter.keeps_all()).then_some(&**filter);
        decode_into(
            batch,
            read,
            now,
            |ev| {
                let kind = kind_of(ev);
                shared.received[kind].fetch_add(1, Ordering::Relaxed);
                if filter.is_some_and(|f| !f.keeps(ev)) {
                    shared.filtered[kind].fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                // Now, not later: the process may exit any moment.
                ev.progname = prognames.lookup(ev.portid);
                true
            },
            |e| decode_error(notices, shared, e.to_string()),
        );
    }

    fn decode_error(&mut self, e: String) {
        decode_error(&mut self.notices, &self.shared, e);
    }

    fn check_lost(&mut self) {
        if let Ok(drops) = self.socket.drops() {
            let d = self.drops.since(drops);
            if d > 0 {
                if self.shared.reliable.load(Ordering::Relaxed) {
                    self.notices.undelivered += d;
                    self.shared.undelivered.fetch_add(d, Ordering::Relaxed);
                } else {
                    self.notices.lost += d;
                    self.shared.lost.fetch_add(d, Ordering::Relaxed);
                }
            }
        }
    }

    /// The batch and the queue as they are now.
    fn offer(&self) -> Offer {
        Offer {
            events: self.batch.len(),
            notices: !self.notices.is_empty(),
            in_flight: self.shared.in_flight.load(Ordering::SeqCst),
            queue_size: self.shared.queue_size.load(Ordering::Relaxed),
        }
    }

    /// Hands the batch over if `decide` says so, and says what it did. A
    /// hold or a pause is decided once more after saying so in `waiting`: a
    /// place given back in between then either shows in the second look or
    /// signals the eventfd, and the waiting loop is woken.
    fn hand_over(&mut self, decide: impl Fn(Offer) -> Handover) -> Handover {
        let mut handover = decide(self.offer());
        if handover.waits_for_room() {
            self.shared.waiting.store(true, Ordering::SeqCst);
            handover = decide(self.offer());
            if handover.waits_for_room() {
                return handover;
            }
        }
        self.shared.waiting.store(false, Ordering::SeqCst);
        if handover == Handover::Deliver {
            self.deliver();
        }
        handover
    }

    /// The last batch, FINAL, with whatever is left (maybe nothing), handed
    /// over regardless of room: the thread exits after it.
    fn deliver_final(&mut self) {
        self.shared.waiting.store(false, Ordering::SeqCst);
        self.hand_to_sink(true);
    }

    fn deliver(&mut self) {
        self.hand_to_sink(false);
    }

    /// Hands the batch to the sink, with the notices gathered since the
    /// previous one; `final_batch` marks it FINAL.
    fn hand_to_sink(&mut self, final_batch: bool) {
        let n = self.batch.len();
        let kinds = self.batch.by_kind();
        self.shared.in_flight.fetch_add(n.into(), Ordering::AcqRel);
        let spare = self.sink.spare();
        let bytes = self
            .batch
            .finish(std::mem::take(&mut self.notices), final_batch, spare);
        if self.sink.deliver(bytes) {
            self.shared.batches.fetch_add(1, Ordering::Relaxed);
        } else {
            // The sink is gone (the JavaScript side is shutting down).
            self.shared.consumed(n);
            for (counter, n) in self.shared.dropped.iter().zip(kinds) {
                counter.fetch_add(n.into(), Ordering::Relaxed);
            }
        }
    }

    fn batch_limit(&self) -> u32 {
        state::batch_limit(
            self.max_batch,
            self.shared.queue_size.load(Ordering::Relaxed),
        )
    }
}
