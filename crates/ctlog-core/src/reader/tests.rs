//! The loop over a fake socket: no root, no netlink. The fake holds
//! messages (and ENOBUFS errors) in memory and keeps an eventfd readable
//! while it holds any, so the loop's real polls see it as they would see
//! the socket. Most tests step the loop a turn at a time on the test
//! thread; the last runs it on a thread as the reader does.

// The captured message's headers are in the capturing host's byte order
// (x86_64, little-endian); the decoder reads them natively.
#![cfg(target_endian = "little")]

use std::collections::VecDeque;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use super::state::Wait;
use super::*;
use crate::wire::{FLAG_FINAL, HEADER_LEN};

/// A TCP DESTROY event as the kernel sent it (tests/decode_captured.rs
/// TCP_DESTROY, where it says how it was captured).
fn destroy_event() -> Vec<u8> {
    let hex = include_str!("../../../../testdata/tcp-destroy.hex").trim();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The counters' place for destroy_event(): a TCP DESTROY (kind::kind_of).
const TCP_DESTROY: usize = 2 * crate::kind::CLASSES.len();

enum Item {
    Msg(Vec<u8>),
    Enobufs,
}

/// The socket, faked.
struct Fake {
    queue: Mutex<VecDeque<Item>>,
    /// Readable while `queue` holds anything (both change under its lock).
    ready: OwnedFd,
    drops: AtomicU32,
    /// The next recv_many panics (once), as a bug in reading would.
    panic_once: AtomicBool,
    /// The most messages one recv_many was allowed to take.
    max_asked: AtomicU64,
}

impl Fake {
    fn new() -> Self {
        Fake {
            queue: Mutex::default(),
            ready: eventfd().unwrap(),
            drops: AtomicU32::new(0),
            panic_once: AtomicBool::new(false),
            max_asked: AtomicU64::new(0),
        }
    }

    fn push(&self, items: impl IntoIterator<Item = Item>) {
        let mut q = self.queue.lock().unwrap();
        let was_empty = q.is_empty();
        q.extend(items);
        if was_empty && !q.is_empty() {
            signal(self.ready.as_raw_fd());
        }
    }

    fn push_events(&self, n: usize) {
        let ev = destroy_event();
        self.push((0..n).map(|_| Item::Msg(ev.clone())));
    }

    fn len(&self) -> usize {
        self.queue.lock().unwrap().len()
    }
}

impl Source for Fake {
    fn recv_many(&self, slots: &mut RecvSlots, max: usize) -> io::Result<usize> {
        self.max_asked.fetch_max(max as u64, Ordering::Relaxed);
        if self.panic_once.swap(false, Ordering::Relaxed) {
            panic!("a read that panics");
        }
        let mut q = self.queue.lock().unwrap();
        let got = match q.front() {
            None => Ok(0),
            Some(Item::Enobufs) => {
                q.pop_front();
                Err(io::Error::from_raw_os_error(libc::ENOBUFS))
            }
            Some(Item::Msg(_)) => {
                let msgs: Vec<&[u8]> = q
                    .iter()
                    .take(max)
                    .map_while(|i| match i {
                        Item::Msg(m) => Some(m.as_slice()),
                        Item::Enobufs => None,
                    })
                    .collect();
                let n = slots.fill(&msgs);
                q.drain(..n);
                Ok(n)
            }
        };
        if q.is_empty() {
            let mut count = 0u64;
            // SAFETY: reads 8 bytes into a live local u64, an eventfd's
            // counter size; EAGAIN (not signalled) leaves it untouched.
            unsafe { libc::read(self.ready.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        }
        got
    }

    fn drops(&self) -> io::Result<u32> {
        Ok(self.drops.load(Ordering::Relaxed))
    }

    fn fd(&self) -> RawFd {
        self.ready.as_raw_fd()
    }
}

/// Keeps every batch; `gone` makes it refuse them, as a sink whose
/// JavaScript side is shutting down does.
#[derive(Clone, Default)]
struct Batches {
    got: Arc<Mutex<Vec<Vec<u8>>>>,
    gone: Arc<AtomicBool>,
}

impl Sink for Batches {
    fn deliver(&mut self, batch: Vec<u8>) -> bool {
        if self.gone.load(Ordering::Relaxed) {
            return false;
        }
        self.got.lock().unwrap().push(batch);
        true
    }
}

/// A batch's header (wire.rs).
#[derive(Debug, PartialEq, Eq)]
struct Head {
    events: u32,
    last: bool,
    enobufs: u32,
    lost: u64,
    undelivered: u64,
}

fn head(b: &[u8]) -> Head {
    assert!(b.len() >= HEADER_LEN);
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    Head {
        events: u32_at(4),
        last: b[1] & FLAG_FINAL != 0,
        enobufs: u32_at(8),
        lost: u64_at(16),
        undelivered: u64_at(24),
    }
}

struct Harness {
    lp: Loop<Batches, Fake>,
    fake: Arc<Fake>,
    shared: Arc<Shared>,
    sink: Batches,
    wake: OwnedFd,
}

/// A loop as Reader::start makes one, over a fake socket.
fn harness(queue_size: u64, max_batch: u32) -> Harness {
    let shared = Arc::new(Shared::default());
    shared.queue_size.store(queue_size, Ordering::Relaxed);
    let _ = shared.room.set(eventfd().unwrap());
    let room = shared.room.get().map_or(-1, |fd| fd.as_raw_fd());
    let wake = eventfd().unwrap();
    let fake = Arc::new(Fake::new());
    let sink = Batches::default();
    let lp = Loop {
        socket: fake.clone(),
        shared: shared.clone(),
        wake: wake.as_raw_fd(),
        room,
        sink: sink.clone(),
        batch: BatchWriter::new(),
        notices: Notices::default(),
        drops: DropCount::default(),
        max_batch,
        slots: RecvSlots::new(RECV_SLOTS, RECV_SLOT),
        prognames: Prognames::default(),
        filter: Arc::default(),
        state: State::default(),
    };
    Harness {
        lp,
        fake,
        shared,
        sink,
        wake,
    }
}

impl Harness {
    /// One turn from an idle socket, and the gathering it starts (if it
    /// does): afterwards the batch read is settled.
    fn read_turn(&mut self) -> bool {
        let more = self.lp.turn();
        if self.lp.state == State::Gathering {
            return self.lp.turn();
        }
        more
    }

    /// Events per batch handed over so far.
    fn counts(&self) -> Vec<u32> {
        let got = self.sink.got.lock().unwrap();
        got.iter().map(|b| head(b).events).collect()
    }

    fn heads(&self) -> Vec<Head> {
        let got = self.sink.got.lock().unwrap();
        got.iter().map(Vec::as_slice).map(head).collect()
    }

    fn in_flight(&self) -> u64 {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    fn waiting(&self) -> bool {
        self.shared.waiting.load(Ordering::SeqCst)
    }

    fn stop(&self) {
        signal(self.wake.as_raw_fd());
    }
}

#[test]
fn pauses_when_the_queue_is_full_and_resumes_when_places_are_given_back() {
    let mut h = harness(10, 4);
    h.fake.push_events(14);
    assert!(h.lp.turn());
    // 4 + 4 in flight: the third batch of 4 would make 12 > 10.
    assert_eq!(h.counts(), [4, 4]);
    assert_eq!(h.lp.batch.len(), 4);
    assert_eq!(h.fake.len(), 2, "paused: the socket keeps the rest");
    assert_eq!(h.lp.state, State::Lingering(Wait::Paused));
    assert!(h.waiting());

    assert!(h.lp.turn()); // the linger
    assert_eq!(h.lp.state, State::Waiting(Wait::Paused));
    // No place given back: the wait times out, and the batch is still kept.
    assert!(h.lp.turn());
    assert_eq!(h.lp.state, State::Waiting(Wait::Paused));
    assert_eq!((h.counts().len(), h.fake.len()), (2, 2));

    // Places given back wake the loop: the batch goes, the rest is read,
    // and held (the sink still has events in flight).
    h.shared.consumed(4);
    let t = Instant::now();
    assert!(h.lp.turn());
    assert!(t.elapsed() < Duration::from_millis(ROOM_POLL_MS as u64));
    assert_eq!(h.counts(), [4, 4, 4]);
    assert_eq!(h.fake.len(), 0);
    assert_eq!(h.lp.batch.len(), 2);
    assert_eq!(h.in_flight(), 8);
    assert_eq!(h.lp.state, State::Lingering(Wait::Holding));
}

#[test]
fn holds_a_partial_batch_while_the_sink_has_events_in_flight() {
    let mut h = harness(100, 50);
    h.fake.push_events(3);
    assert!(h.read_turn());
    assert_eq!(h.counts(), [3], "nothing in flight: handed over at once");
    assert_eq!(h.lp.state, State::Lingering(Wait::Reading));
    assert!(!h.waiting());

    h.fake.push_events(2);
    assert!(h.lp.turn()); // the linger
    assert!(h.lp.turn());
    assert_eq!(h.counts(), [3], "3 in flight: the 2 are held");
    assert_eq!(h.lp.batch.len(), 2);
    assert_eq!(h.lp.state, State::Lingering(Wait::Holding));
    assert!(h.waiting());

    // More events join the held batch.
    assert!(h.lp.turn());
    h.fake.push_events(1);
    assert!(h.lp.turn());
    assert_eq!(h.counts(), [3]);
    assert_eq!(h.lp.batch.len(), 3);

    // Consumed: the held batch goes, after a read that finds nothing.
    assert!(h.lp.turn());
    assert_eq!(h.lp.state, State::Waiting(Wait::Holding));
    h.shared.consumed(3);
    assert!(h.lp.turn());
    assert_eq!(h.counts(), [3, 3]);
    assert_eq!(h.lp.state, State::Waiting(Wait::Reading), "no linger");
    assert!(!h.waiting());
}

#[test]
fn lingers_after_a_read_that_found_events_and_not_after_an_empty_read() {
    let mut h = harness(100, 50);
    h.fake.push_events(1);
    assert!(h.read_turn());
    assert_eq!(h.lp.state, State::Lingering(Wait::Reading));
    let linger = h.lp.state.poll().unwrap();
    assert_eq!((linger.socket, linger.timeout_ms), (false, LINGER_MS));

    // The linger waits its time and reads nothing, even with events there.
    h.fake.push_events(1);
    let t = Instant::now();
    assert!(h.lp.turn());
    assert!(t.elapsed() >= Duration::from_millis(LINGER_MS as u64));
    assert_eq!(h.fake.len(), 1);
    assert_eq!(h.lp.state, State::Waiting(Wait::Reading));

    // Held, then woken by places given back: that read finds nothing.
    assert!(h.lp.turn());
    assert_eq!(h.lp.state, State::Lingering(Wait::Holding));
    assert!(h.lp.turn());
    h.shared.consumed(1);
    assert!(h.lp.turn());
    assert_eq!(h.counts(), [1, 1]);
    assert_eq!(h.lp.state, State::Waiting(Wait::Reading));
    assert_eq!(h.lp.state.poll().unwrap().timeout_ms, IDLE_POLL_MS);
}

#[test]
fn stop_hands_over_everything_the_socket_holds_even_while_paused() {
    let mut h = harness(4, 4);
    h.fake.push_events(10);
    assert!(h.lp.turn());
    assert!(h.lp.turn());
    assert_eq!(h.lp.state, State::Waiting(Wait::Paused));
    assert_eq!(
        (h.counts(), h.lp.batch.len(), h.fake.len()),
        (vec![4], 4, 2)
    );

    h.stop();
    assert!(!h.lp.turn(), "the thread is done");
    assert_eq!(h.lp.state, State::Stopping);
    assert_eq!(h.fake.len(), 0);
    let heads = h.heads();
    assert_eq!(h.counts(), [4, 4, 2], "regardless of room");
    assert_eq!(heads.iter().filter(|h| h.last).count(), 1);
    assert!(heads.last().unwrap().last);
    assert_eq!(h.in_flight(), 10);
}

#[test]
fn a_trickle_is_gathered_for_gather_ms_and_crosses_in_one_batch() {
    let mut h = harness(100, 50);
    h.fake.push_events(2);
    let t = Instant::now();
    assert!(h.lp.turn());
    assert_eq!(h.lp.state, State::Gathering);
    assert!(h.counts().is_empty(), "kept, not handed over yet");
    // What comes meanwhile joins it; the gathering reads no socket.
    h.fake.push_events(3);
    assert!(h.lp.turn());
    assert!(t.elapsed() >= Duration::from_millis(GATHER_MS as u64));
    assert_eq!(h.counts(), [5], "one batch for the five");
    assert_eq!(h.lp.state, State::Lingering(Wait::Reading));
}

#[test]
fn stop_while_gathering_hands_everything_over_in_the_final_batch() {
    let mut h = harness(100, 50);
    h.fake.push_events(3);
    assert!(h.lp.turn());
    assert_eq!(h.lp.state, State::Gathering);
    h.fake.push_events(2);
    h.stop();
    let t = Instant::now();
    assert!(!h.lp.turn());
    assert!(
        t.elapsed() < Duration::from_millis(GATHER_MS as u64),
        "the stop does not wait the gathering out"
    );
    let heads = h.heads();
    assert_eq!(h.counts(), [5]);
    assert!(heads[0].last);
}

#[test]
fn stop_while_lingering_reads_the_rest_into_the_final_batch() {
    let mut h = harness(100, 50);
    h.fake.push_events(3);
    assert!(h.read_turn());
    h.fake.push_events(2);
    h.stop();
    assert!(!h.lp.turn());
    let heads = h.heads();
    assert_eq!(h.counts(), [3, 2]);
    assert!(!heads[0].last && heads[1].last);
}

#[test]
fn stop_with_nothing_left_still_sends_a_final_batch() {
    let mut h = harness(100, 50);
    h.stop();
    assert!(!h.lp.turn());
    let heads = h.heads();
    assert_eq!(heads.len(), 1);
    assert_eq!((heads[0].events, heads[0].last), (0, true));
}

#[test]
fn enobufs_is_counted_and_the_drops_read() {
    let mut h = harness(100, 50);
    h.fake.push_events(2);
    h.fake.push([Item::Enobufs]);
    h.fake.drops.store(5, Ordering::Relaxed);
    h.fake.push_events(1);
    assert!(h.read_turn());
    assert_eq!(
        h.heads(),
        [Head {
            events: 3,
            last: false,
            enobufs: 1,
            lost: 5,
            undelivered: 0
        }],
        "reading went on after the error",
    );
    assert_eq!(h.shared.enobufs.load(Ordering::Relaxed), 1);
    assert_eq!(h.shared.lost.load(Ordering::Relaxed), 5);

    // In reliable mode the same counter counts deliveries the kernel
    // retries; only the drops since the last look count.
    h.shared.reliable.store(true, Ordering::Relaxed);
    h.shared.consumed(3);
    h.fake.push([Item::Enobufs]);
    h.fake.drops.store(7, Ordering::Relaxed);
    h.fake.push_events(1);
    assert!(h.lp.turn()); // the linger
    assert!(h.read_turn());
    let heads = h.heads();
    assert_eq!(
        heads[1],
        Head {
            events: 1,
            last: false,
            enobufs: 1,
            lost: 0,
            undelivered: 2
        }
    );
    assert_eq!(h.shared.lost.load(Ordering::Relaxed), 5);
    assert_eq!(h.shared.undelivered.load(Ordering::Relaxed), 2);
}

#[test]
fn an_idle_reader_looks_for_drops() {
    let mut h = harness(100, 50);
    h.fake.drops.store(3, Ordering::Relaxed);
    assert!(h.lp.turn()); // a whole idle timeout
    assert_eq!(h.shared.lost.load(Ordering::Relaxed), 3);
    // The notice goes out on its own: nothing is in flight.
    assert_eq!(h.heads()[0].events, 0);
    assert_eq!(h.heads()[0].lost, 3);
}

#[test]
fn the_kernel_drop_counter_wrapping_is_counted_not_missed() {
    let mut h = harness(100, 50);
    h.fake.drops.store(u32::MAX - 1, Ordering::Relaxed);
    assert!(h.lp.turn()); // idle: looks
    h.fake.drops.store(2, Ordering::Relaxed);
    h.shared.consumed(0);
    assert!(h.lp.turn());
    assert_eq!(
        h.shared.lost.load(Ordering::Relaxed),
        u64::from(u32::MAX - 1) + 4
    );
}

/// A panic while reading is counted and the batch in hand dropped; the
/// reader must then read on as before (it once kept a receive buffer of
/// no slots, and never took a message again).
#[test]
fn a_read_that_panics_is_counted_and_reading_goes_on() {
    let mut h = harness(100, 50);
    h.fake.panic_once.store(true, Ordering::Relaxed);
    h.fake.push_events(2);
    assert!(h.lp.turn());
    assert_eq!(h.shared.decode_errors.load(Ordering::Relaxed), 1);
    assert_eq!(h.fake.len(), 2, "the panic came before anything was taken");
    for _ in 0..3 {
        assert!(h.lp.turn());
    }
    assert_eq!(h.fake.len(), 0, "read again");
    assert_eq!(h.counts().iter().sum::<u32>(), 2);
    assert_eq!(h.shared.decode_errors.load(Ordering::Relaxed), 1);
}

#[test]
fn giving_back_more_than_is_in_flight_cannot_wrap_the_count() {
    let mut h = harness(4, 4);
    h.fake.push_events(3);
    assert!(h.read_turn());
    assert_eq!(h.in_flight(), 3);
    h.shared.consumed(10);
    assert_eq!(h.in_flight(), 0, "not 2^64 - 7");
    // Backpressure still holds: 4 more are handed over, the other 2 wait.
    h.fake.push_events(6);
    for _ in 0..3 {
        assert!(h.lp.turn());
    }
    assert_eq!(h.in_flight(), 4);
    assert_eq!(h.counts(), [3, 4]);
    assert_eq!(h.lp.batch.len(), 2);
}

#[test]
fn max_batch_is_respected() {
    let mut h = harness(1000, 10);
    h.fake.push_events(95); // more than one recvmmsg takes
    assert!(h.lp.turn());
    assert_eq!(h.counts(), [10; 9]);
    assert_eq!(h.lp.batch.len(), 5, "held: events in flight");
    assert_eq!(h.fake.max_asked.load(Ordering::Relaxed), 10);
}

/// A read never takes more than the batch has room for: one that did (64
/// events into a batch the queue holds 5 of) would never fit the queue, and
/// the reader would stay paused.
#[test]
fn a_batch_never_outgrows_a_small_queue() {
    let mut h = harness(5, 4096);
    h.fake.push_events(12);
    assert!(h.lp.turn());
    assert_eq!((h.counts(), h.lp.batch.len()), (vec![5], 5));
    assert_eq!(h.lp.state, State::Lingering(Wait::Paused));
    h.shared.consumed(5);
    assert!(h.lp.turn());
    assert!(h.lp.turn());
    assert_eq!((h.counts(), h.lp.batch.len()), (vec![5, 5], 2));
    assert_eq!(h.fake.len(), 0);
}

/// The filter applies after decoding, counts what it does not keep, and
/// a new one (reconfigure) applies from the next read.
#[test]
fn the_filter_drops_after_decoding_and_counts_it_filtered() {
    use crate::conntrack_filter::Cond;
    let mut h = harness(100, 50);
    let udp = Filter {
        proto: Some(Cond::is(17)),
        ..Filter::default()
    };
    *lock(&h.shared.filter) = Arc::new(ReadFilter {
        filter: udp,
        ..ReadFilter::default()
    });
    h.fake.push_events(3);
    assert!(h.read_turn());
    assert!(h.counts().iter().all(|&n| n == 0), "{:?}", h.counts());
    assert_eq!(h.lp.batch.len(), 0);
    assert_eq!(h.shared.received[TCP_DESTROY].load(Ordering::Relaxed), 3);
    assert_eq!(h.shared.filtered[TCP_DESTROY].load(Ordering::Relaxed), 3);
    let not_udp = Filter {
        proto: Some(Cond::not(17)),
        ..Filter::default()
    };
    *lock(&h.shared.filter) = Arc::new(ReadFilter {
        filter: not_udp,
        ..ReadFilter::default()
    });
    h.fake.push_events(2);
    h.lp.state = State::default();
    assert!(h.read_turn());
    assert_eq!(h.counts().iter().sum::<u32>() + h.lp.batch.len(), 2);
    assert_eq!(h.shared.received[TCP_DESTROY].load(Ordering::Relaxed), 5);
    assert_eq!(h.shared.filtered[TCP_DESTROY].load(Ordering::Relaxed), 3);
}

#[test]
fn a_gone_sink_gives_the_places_back_and_counts_the_events_dropped() {
    let mut h = harness(100, 50);
    h.sink.gone.store(true, Ordering::Relaxed);
    h.fake.push_events(3);
    assert!(h.read_turn());
    assert_eq!(h.in_flight(), 0);
    assert_eq!(h.shared.dropped[TCP_DESTROY].load(Ordering::Relaxed), 3);
    assert_eq!(h.shared.batches.load(Ordering::Relaxed), 0);
}

/// The assembly: the loop on its own thread, a consumer giving places back
/// as it goes, events arriving meanwhile, then stop.
#[test]
fn runs_on_a_thread_and_delivers_every_event_in_batches_that_fit() {
    const EVENTS: usize = 600;
    let Harness {
        mut lp,
        fake,
        shared,
        sink,
        wake,
    } = harness(64, 32);
    let thread = std::thread::spawn(move || lp.run());
    let mut seen = 0;
    let mut batches = 0;
    let mut pushed = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen < EVENTS {
        assert!(Instant::now() < deadline, "{seen} of {EVENTS} events");
        if pushed < EVENTS {
            fake.push_events(50);
            pushed += 50;
        }
        let got: Vec<_> = sink.got.lock().unwrap().drain(..).collect();
        for b in &got {
            let h = head(b);
            assert!(h.events <= 32);
            assert!(!h.last);
            seen += h.events as usize;
            shared.consumed(h.events);
        }
        batches += got.len();
        std::thread::sleep(Duration::from_millis(1));
    }
    signal(wake.as_raw_fd());
    thread.join().unwrap();
    let rest = sink.got.lock().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(head(&rest[0]).events, 0);
    assert!(head(&rest[0]).last);
    assert_eq!(seen, EVENTS);
    assert!(batches >= EVENTS / 32);
    assert_eq!(shared.received[TCP_DESTROY].load(Ordering::Relaxed), 600);
    assert_eq!(shared.in_flight.load(Ordering::SeqCst), 0);
}

/// The reader holds the whole filter: the protocol classes (which the
/// kernel's program holds too, but not for what it cannot classify) as
/// well as conntrack's filters.
#[test]
fn the_read_filter_keeps_the_protocol_classes_per_event_type() {
    use crate::kind::{TCP, UDP};
    // NEW: tcp only; UPDATE: every class; DESTROY: udp only.
    let f = ReadFilter::of(&ReaderOptions {
        protocols: ProtoFilter([TCP, crate::kind::ALL, UDP]),
        ..ReaderOptions::default()
    });
    assert!(!f.keeps_all());
    let ev = |kind, proto| {
        let mut e = Event::new(kind, 2, 0);
        e.orig.proto = Some(proto);
        e
    };
    assert!(f.keeps(&ev(EventType::New, 6)));
    assert!(!f.keeps(&ev(EventType::New, 17)));
    assert!(f.keeps(&ev(EventType::Update, 58)));
    assert!(f.keeps(&ev(EventType::Destroy, 17)));
    assert!(!f.keeps(&ev(EventType::Destroy, 1)));
    assert!(ReadFilter::of(&ReaderOptions::default()).keeps_all());
}
