//! The reader loop's state between two polls, and the decisions made from
//! it: what the next poll watches and for how long, what a turn does once
//! the poll returns, and whether the batch in hand is handed over, held for
//! the sink or kept while the queue is full. Pure: no socket, no thread, no
//! atomics. The loop (reader.rs) reads the shared counters into an
//! [`Offer`], asks, and does what it is told.

use super::{GATHER_BELOW, GATHER_MS, IDLE_POLL_MS, LINGER_MS, ROOM_POLL_MS};

/// What the loop waits for between reads, besides the stop signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wait {
    /// Nothing is held back: the socket.
    Reading,
    /// The socket was empty and the sink still had events in flight: the
    /// batch waits for it (and grows meanwhile) rather than queueing behind
    /// it. The socket, and places given back.
    Holding,
    /// A full batch found no room in the queue: only places given back. The
    /// socket is left alone; the kernel's receive buffer holds what comes.
    Paused,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Polls as the `Wait` says.
    Waiting(Wait),
    /// The last read found events: the socket is let fill for LINGER_MS,
    /// watching only the stop signal, and then the loop waits as the `Wait`
    /// says. Woken for every event of a flood, it would spend more on
    /// wake-ups and system calls than on events.
    Lingering(Wait),
    /// A read from an idle socket found a few events, which the sink would
    /// have had at once: they are kept for GATHER_MS, watching only the
    /// stop signal, and then the socket is read again and the batch settled
    /// (handed over, whatever it holds by then). A trickle thus crosses to
    /// JavaScript in one batch per GATHER_MS rather than one per event.
    Gathering,
    /// Asked to stop: what the socket holds is read and handed over
    /// regardless of room, the last batch with FINAL, and the thread exits.
    Stopping,
}

/// One poll: the stop signal always, and these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Poll {
    /// Places given back (Shared::consumed signals them).
    pub room: bool,
    pub socket: bool,
    pub timeout_ms: i32,
    /// A timeout means the socket was idle that long: look for drops the
    /// kernel made without an ENOBUFS (reliable mode sets
    /// NETLINK_NO_ENOBUFS), so they are seen even with no traffic.
    pub idle_check: bool,
}

/// How a poll ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Woken {
    Stop,
    /// Something is ready, or the time is up (or the poll was interrupted):
    /// look, whichever it was.
    Look,
}

/// What a turn does after its poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Turn {
    /// The linger is over: poll again, now as the state waits (no read
    /// between: the poll finds the socket ready at once if events came).
    Poll,
    /// Read the socket until it is empty, then settle the batch.
    Read,
    /// Paused: offer the batch kept; read on only once it is handed over.
    Retry,
    /// Read what the socket holds, hand it all over, the last batch FINAL,
    /// and exit.
    Finish,
}

/// What becomes of the batch in hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handover {
    /// No events and no notices: nothing to hand over.
    Nothing,
    Deliver,
    /// Keep it growing until the sink has consumed what it has.
    Hold,
    /// Keep it, and read no more, until the queue has room for it.
    Pause,
}

impl Handover {
    /// Whether the loop must be woken when places are given back.
    pub fn waits_for_room(self) -> bool {
        matches!(self, Handover::Hold | Handover::Pause)
    }

    fn wait(self) -> Wait {
        match self {
            Handover::Nothing | Handover::Deliver => Wait::Reading,
            Handover::Hold => Wait::Holding,
            Handover::Pause => Wait::Paused,
        }
    }
}

/// The batch in hand and the queue beyond it, as the loop sees them now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Offer {
    /// Events in the batch.
    pub events: u32,
    /// Notices wait to go out; they travel with the next batch delivered.
    pub notices: bool,
    /// Events handed over and not consumed yet (Shared::in_flight).
    pub in_flight: u64,
    pub queue_size: u64,
}

impl Offer {
    fn is_empty(self) -> bool {
        self.events == 0 && !self.notices
    }

    /// At most `queue_size` events may be handed over and not consumed.
    fn fits(self) -> bool {
        self.in_flight + u64::from(self.events) <= self.queue_size
    }

    /// Handed over now if the queue has room for it, else kept (pause).
    pub fn now(self) -> Handover {
        if self.is_empty() {
            Handover::Nothing
        } else if self.fits() {
            Handover::Deliver
        } else {
            Handover::Pause
        }
    }

    /// The socket is empty: a batch short of `limit` is held while the sink
    /// still has events in flight, so that while the sink is busy the next
    /// batch grows instead of queueing behind it; otherwise as [`Offer::now`].
    pub fn settle(self, limit: u32) -> Handover {
        if !self.is_empty() && self.events < limit && self.in_flight > 0 {
            Handover::Hold
        } else {
            self.now()
        }
    }
}

/// Events per batch: `max_batch`, but never more than the queue may hold
/// (such a batch would never fit it), and at least one.
pub(super) fn batch_limit(max_batch: u32, queue_size: u64) -> u32 {
    max_batch
        .min(u32::try_from(queue_size).unwrap_or(u32::MAX))
        .max(1)
}

/// Messages the next read may take into a batch of `events`: what the
/// limit leaves (one event per message), so that a batch never outgrows it.
/// At least one: a batch already at the limit is offered before the read.
pub(super) fn read_max(limit: u32, events: u32) -> usize {
    limit.saturating_sub(events).max(1) as usize
}

impl Default for State {
    fn default() -> Self {
        State::Waiting(Wait::Reading)
    }
}

impl State {
    /// The poll this state waits in; None when stopping (no more polls).
    pub fn poll(self) -> Option<Poll> {
        let (room, socket, timeout_ms) = match self {
            State::Lingering(_) => (false, false, LINGER_MS),
            State::Gathering => (false, false, GATHER_MS),
            State::Waiting(Wait::Reading) => (false, true, IDLE_POLL_MS),
            State::Waiting(Wait::Holding) => (true, true, ROOM_POLL_MS),
            State::Waiting(Wait::Paused) => (true, false, ROOM_POLL_MS),
            State::Stopping => return None,
        };
        Some(Poll {
            room,
            socket,
            timeout_ms,
            idle_check: self == State::Waiting(Wait::Reading),
        })
    }

    /// The poll returned: what this turn does next.
    pub fn woken(&mut self, woken: Woken) -> Turn {
        if woken == Woken::Stop {
            *self = State::Stopping;
        }
        match *self {
            State::Stopping => Turn::Finish,
            State::Lingering(then) => {
                *self = State::Waiting(then);
                Turn::Poll
            }
            State::Waiting(Wait::Paused) => Turn::Retry,
            State::Waiting(_) | State::Gathering => Turn::Read,
        }
    }

    /// A read found events and the batch is as `offer` says: whether to
    /// keep it GATHER_MS before settling it. Only a read from an idle socket
    /// gathers (not one after a gathering: an event waits at most once),
    /// and only a batch of a few events (fewer than GATHER_BELOW, and short
    /// of `limit`) that would go out now: one the sink is still busy with
    /// is held anyway, a flood's goes at once.
    pub fn gathers(self, found: bool, offer: Offer, limit: u32) -> bool {
        self == State::Waiting(Wait::Reading)
            && found
            && offer.events > 0
            && offer.events < limit.min(GATHER_BELOW)
            && offer.settle(limit) == Handover::Deliver
    }

    /// Keep the batch for GATHER_MS (gathers() said so).
    pub fn gather(&mut self) {
        if *self != State::Stopping {
            *self = State::Gathering;
        }
    }

    /// A read (and what it handed over on the way) is done and the batch is
    /// settled as `handover`: the loop waits as that needs, after a linger
    /// if the read `found` events. Stopping stays stopping.
    pub fn read(&mut self, found: bool, handover: Handover) {
        if *self == State::Stopping {
            return;
        }
        let wait = handover.wait();
        *self = if found {
            State::Lingering(wait)
        } else {
            State::Waiting(wait)
        };
    }

    /// The batch reached the limit mid-read: handed over if the queue has
    /// room, else kept (pause); when stopping, handed over regardless: the
    /// thread is about to exit, and the sink must have everything.
    pub fn full(self, offer: Offer) -> Handover {
        match self {
            State::Stopping if !offer.is_empty() => Handover::Deliver,
            _ => offer.now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READING: State = State::Waiting(Wait::Reading);
    const HOLDING: State = State::Waiting(Wait::Holding);
    const PAUSED: State = State::Waiting(Wait::Paused);

    fn offer(events: u32, in_flight: u64, queue_size: u64) -> Offer {
        Offer {
            events,
            notices: false,
            in_flight,
            queue_size,
        }
    }

    #[test]
    fn starts_reading() {
        assert_eq!(State::default(), READING);
    }

    #[test]
    fn a_few_events_from_an_idle_socket_are_gathered_once_then_handed_over() {
        let limit = 1024;
        // Idle socket, sink idle, a few events: gathered.
        assert!(READING.gathers(true, offer(3, 0, 16384), limit));
        let mut s = READING;
        s.gather();
        assert_eq!(s, State::Gathering);
        let p = s.poll().unwrap();
        assert_eq!(
            (p.room, p.socket, p.timeout_ms, p.idle_check),
            (false, false, GATHER_MS, false)
        );
        assert_eq!(s.woken(Woken::Look), Turn::Read);
        // The read after a gathering settles the batch: no second wait.
        assert!(!s.gathers(true, offer(9, 0, 16384), limit));
        s.read(true, offer(9, 0, 16384).settle(limit));
        assert_eq!(s, State::Lingering(Wait::Reading));
    }

    #[test]
    fn nothing_gathers_that_would_not_go_out_at_once() {
        let limit = 1024;
        let lingering = State::Lingering(Wait::Reading);
        // (state, found, offer, limit, gathers, why)
        let cases = [
            (
                READING,
                false,
                offer(3, 0, 16384),
                limit,
                false,
                "the read found nothing",
            ),
            (READING, true, offer(0, 0, 16384), limit, false, "no events"),
            (
                READING,
                true,
                offer(limit, 0, 16384),
                limit,
                false,
                "a full batch goes",
            ),
            (
                READING,
                true,
                offer(GATHER_BELOW, 0, 16384),
                limit,
                false,
                "a flood's read after a linger goes at once",
            ),
            (
                READING,
                true,
                offer(GATHER_BELOW - 1, 0, 16384),
                limit,
                true,
                "a trickle's is gathered",
            ),
            (
                READING,
                true,
                offer(3, 0, 16384),
                3,
                false,
                "a limit below GATHER_BELOW is still full",
            ),
            (
                READING,
                true,
                offer(3, 5, 16384),
                limit,
                false,
                "the sink is busy: held anyway",
            ),
            (
                READING,
                true,
                offer(3, 16382, 16384),
                limit,
                false,
                "no room: paused, not gathered",
            ),
            (
                HOLDING,
                true,
                offer(3, 0, 16384),
                limit,
                false,
                "only from an idle socket",
            ),
            (
                lingering,
                true,
                offer(3, 0, 16384),
                limit,
                false,
                "not while lingering",
            ),
        ];
        for (state, found, o, limit, gathers, why) in cases {
            assert_eq!(state.gathers(found, o, limit), gathers, "{why}");
        }
    }

    #[test]
    fn a_stop_while_gathering_finishes() {
        let mut s = State::Gathering;
        assert_eq!(s.woken(Woken::Stop), Turn::Finish);
        let mut stopping = State::Stopping;
        stopping.gather();
        assert_eq!(stopping, State::Stopping);
    }

    #[test]
    fn reading_polls_the_socket_and_looks_for_drops_when_idle() {
        let p = READING.poll().unwrap();
        assert_eq!(
            (p.room, p.socket, p.timeout_ms),
            (false, true, IDLE_POLL_MS)
        );
        assert!(p.idle_check);
    }

    #[test]
    fn holding_polls_the_socket_and_places_given_back() {
        let p = HOLDING.poll().unwrap();
        assert_eq!((p.room, p.socket, p.timeout_ms), (true, true, ROOM_POLL_MS));
        assert!(!p.idle_check);
    }

    #[test]
    fn paused_leaves_the_socket_alone() {
        let p = PAUSED.poll().unwrap();
        assert_eq!(
            (p.room, p.socket, p.timeout_ms),
            (true, false, ROOM_POLL_MS)
        );
        assert!(!p.idle_check);
    }

    #[test]
    fn lingering_watches_only_the_stop_signal_then_polls_as_it_waits() {
        for wait in [Wait::Reading, Wait::Holding, Wait::Paused] {
            let mut s = State::Lingering(wait);
            let p = s.poll().unwrap();
            assert_eq!((p.room, p.socket, p.timeout_ms), (false, false, LINGER_MS));
            assert!(!p.idle_check);
            assert_eq!(s.woken(Woken::Look), Turn::Poll);
            assert_eq!(s, State::Waiting(wait));
        }
    }

    #[test]
    fn a_read_that_found_events_lingers_an_empty_read_does_not() {
        let mut s = READING;
        s.read(true, Handover::Deliver);
        assert_eq!(s, State::Lingering(Wait::Reading));
        assert_eq!(s.poll().unwrap().timeout_ms, LINGER_MS);

        let mut s = HOLDING;
        s.read(false, Handover::Deliver);
        assert_eq!(s, READING);
        assert_eq!(s.poll().unwrap().timeout_ms, IDLE_POLL_MS);
    }

    #[test]
    fn a_read_waits_as_the_batch_was_settled() {
        for (h, wait) in [
            (Handover::Nothing, Wait::Reading),
            (Handover::Deliver, Wait::Reading),
            (Handover::Hold, Wait::Holding),
            (Handover::Pause, Wait::Paused),
        ] {
            let mut s = READING;
            s.read(false, h);
            assert_eq!(s, State::Waiting(wait));
            s.read(true, h);
            assert_eq!(s, State::Lingering(wait));
        }
    }

    #[test]
    fn reading_and_holding_read_paused_retries() {
        for mut s in [READING, HOLDING] {
            assert_eq!(s.woken(Woken::Look), Turn::Read);
        }
        let mut s = PAUSED;
        assert_eq!(s.woken(Woken::Look), Turn::Retry);
        assert_eq!(s, PAUSED);
    }

    #[test]
    fn stop_finishes_from_any_state() {
        for mut s in [
            READING,
            HOLDING,
            PAUSED,
            State::Lingering(Wait::Reading),
            State::Lingering(Wait::Paused),
            State::Stopping,
        ] {
            assert_eq!(s.woken(Woken::Stop), Turn::Finish);
            assert_eq!(s, State::Stopping);
            assert_eq!(s.poll(), None);
            // What the final read hands over does not start another wait.
            s.read(true, Handover::Deliver);
            assert_eq!(s, State::Stopping);
        }
    }

    #[test]
    fn a_full_batch_pauses_when_in_flight_plus_batch_exceeds_the_queue() {
        assert_eq!(READING.full(offer(4, 6, 10)), Handover::Deliver);
        assert_eq!(READING.full(offer(4, 7, 10)), Handover::Pause);
        assert_eq!(HOLDING.full(offer(4, 7, 10)), Handover::Pause);
    }

    #[test]
    fn a_full_batch_goes_regardless_of_room_when_stopping() {
        assert_eq!(State::Stopping.full(offer(4, 10, 10)), Handover::Deliver);
        assert_eq!(State::Stopping.full(offer(0, 10, 10)), Handover::Nothing);
    }

    #[test]
    fn paused_resumes_once_places_are_given_back() {
        // The retry of a paused reader is Offer::now.
        assert_eq!(offer(8, 8, 10).now(), Handover::Pause);
        assert_eq!(offer(8, 2, 10).now(), Handover::Deliver);
    }

    #[test]
    fn a_partial_batch_is_held_while_the_sink_has_events_in_flight() {
        assert_eq!(offer(3, 1, 100).settle(50), Handover::Hold);
        assert_eq!(offer(3, 0, 100).settle(50), Handover::Deliver);
        // Notices alone wait as events do.
        let notices = Offer {
            notices: true,
            ..offer(0, 1, 100)
        };
        assert_eq!(notices.settle(50), Handover::Hold);
        assert_eq!(
            Offer {
                in_flight: 0,
                ..notices
            }
            .settle(50),
            Handover::Deliver
        );
    }

    #[test]
    fn a_full_batch_is_not_held_when_the_socket_is_empty() {
        assert_eq!(offer(50, 1, 100).settle(50), Handover::Deliver);
        assert_eq!(offer(50, 51, 100).settle(50), Handover::Pause);
    }

    #[test]
    fn nothing_in_hand_is_nothing_to_hand_over() {
        assert_eq!(offer(0, 5, 10).settle(4), Handover::Nothing);
        assert_eq!(offer(0, 50, 10).now(), Handover::Nothing);
        assert!(!Handover::Nothing.waits_for_room());
        assert!(!Handover::Deliver.waits_for_room());
        assert!(Handover::Hold.waits_for_room());
        assert!(Handover::Pause.waits_for_room());
    }

    #[test]
    fn the_batch_limit_is_max_batch_within_the_queue() {
        assert_eq!(batch_limit(4096, 16_384), 4096);
        assert_eq!(batch_limit(4096, 100), 100);
        assert_eq!(batch_limit(4096, u64::MAX), 4096);
        assert_eq!(batch_limit(0, 100), 1);
        assert_eq!(batch_limit(10, 0), 1);
    }

    #[test]
    fn a_read_takes_no_more_than_the_batch_has_room_for() {
        assert_eq!(read_max(4096, 0), 4096);
        assert_eq!(read_max(100, 90), 10);
        assert_eq!(read_max(100, 100), 1);
        assert_eq!(read_max(100, 150), 1);
    }
}
