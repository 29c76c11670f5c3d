/**
 * The VyOS logger's line (vyos-conntrack-logger), token for token, with its
 * padding: `[NEW]     2800357913 tcp      6 120 SYN_SENT src=... dst=...`.
 * Unlike VyOS, it prints counters when the kernel sent them, prints `start=`
 * alone on NEW (VyOS crashes there), and leaves no doubled or trailing space.
 */
import { IPS, spanNs, type ConntrackEvent, type Counters, type Time, type Tuple } from '../event.js';
import { defineFormat } from './definition.js';
import { ascii, lineOf, type LineWriter } from './line.js';

const SP = 0x20;

const TAGS = { new: ascii('[NEW]    '), update: ascii('[UPDATE] '), destroy: ascii('[DESTROY]') } as const;
const B_SRC = ascii(' src=');
const B_DST = ascii(' dst=');
const B_SPORT = ascii(' sport=');
const B_DPORT = ascii(' dport=');
const B_TYPE = ascii(' type=');
const B_CODE = ascii(' code=');
const B_ID = ascii(' id=');
const B_PACKETS = ascii(' packets=');
const B_BYTES = ascii(' bytes=');
const B_UNREPLIED = ascii(' [UNREPLIED]');
const B_MARK = ascii(' mark=');
const B_OFFLOAD = ascii(' [OFFLOAD]');
const B_ASSURED = ascii(' [ASSURED]');
const B_PORTID = ascii(' portid=');
const B_START = ascii(' start=');
const B_STOP = ascii(' stop=');
const B_DELTA = ascii(' delta=');

// VyOS's own tables (TCP_CONNTRACK_TO_NAME, SCTP_CONNTRACK_TO_NAME): they
// differ from conntrack-tools' (9 is LISTEN here, SYN_SENT2 there), and a
// number missing from them prints as `unknown`.
const VYOS_TCP_STATES: Record<number, string> = {
  1: 'SYN_SENT',
  2: 'SYN_RECV',
  3: 'ESTABLISHED',
  4: 'FIN_WAIT',
  5: 'CLOSE_WAIT',
  6: 'LAST_ACK',
  7: 'TIME_WAIT',
  8: 'CLOSE',
  9: 'LISTEN',
  10: 'MAX',
  11: 'IGNORE',
  12: 'RETRANS',
  13: 'UNACK',
  14: 'TIMEOUT_MAX',
};
const VYOS_SCTP_STATES: Record<number, string> = {
  1: 'CLOSED',
  2: 'COOKIE_WAIT',
  3: 'COOKIE_ECHOED',
  4: 'ESTABLISHED',
  5: 'SHUTDOWN_SENT',
  6: 'SHUTDOWN_RECD',
  7: 'SHUTDOWN_ACK_SENT',
  8: 'HEARTBEAT_SENT',
  9: 'HEARTBEAT_ACKED',
  10: 'MAX',
};

function stateToken(ev: ConntrackEvent): string | undefined {
  if (ev.state === undefined) return undefined;
  if (ev.stateProto === 'tcp') return VYOS_TCP_STATES[ev.state] ?? 'unknown';
  if (ev.stateProto === 'sctp') return VYOS_SCTP_STATES[ev.state] ?? 'unknown';
  // VyOS ignores DCCP state; an operator still wants it.
  return ev.stateName ?? 'unknown';
}

function flow(w: LineWriter, t: Tuple, c: Counters | undefined): void {
  w.bytes(B_SRC);
  w.str(t.src ?? '');
  w.bytes(B_DST);
  w.str(t.dst ?? '');
  if (t.sport !== undefined) {
    w.bytes(B_SPORT);
    w.num(t.sport);
  }
  if (t.dport !== undefined) {
    w.bytes(B_DPORT);
    w.num(t.dport);
  }
  if (t.icmpType !== undefined) {
    w.bytes(B_TYPE);
    w.num(t.icmpType);
  }
  if (t.icmpCode !== undefined) {
    w.bytes(B_CODE);
    w.num(t.icmpCode);
  }
  if (t.icmpId !== undefined) {
    w.bytes(B_ID);
    w.num(t.icmpId);
  }
  if (c) {
    w.bytes(B_PACKETS);
    w.num(c.packets);
    w.bytes(B_BYTES);
    w.num(c.bytes);
  }
}

/**
 * VyOS prints `delta=` as Python's timedelta(...).total_seconds(): whole
 * microseconds (rounded half to even), in Python's float repr.
 */
function writeDelta(w: LineWriter, start: Time, stop: Time): void {
  const ns = spanNs(start, stop);
  if (typeof ns === 'bigint') {
    w.str(vyosDelta(ns));
    return;
  }
  // Whole nanoseconds below 2^53 (104 days): the rounding in numbers, no bigint.
  const abs = Math.abs(ns);
  let us = Math.floor(abs / 1000);
  const rem = abs - us * 1000;
  if (rem > 500 || (rem === 500 && us % 2 === 1)) us += 1;
  if (us < 100 || us >= 1e15) {
    // Python's exponent forms (below 1e-4 s) and the rare rest: as before.
    w.str(pyFloat((ns < 0 ? -us : us) / 1e6));
    return;
  }
  // us / 1e6 in Python's repr: the seconds, a point, the six digits of the
  // fraction without trailing zeros (at least one). At most 15 significant
  // digits, so this is the shortest text that reads back as that float.
  if (ns < 0) w.byte(0x2d);
  const whole = Math.floor(us / 1e6);
  let frac = us - whole * 1e6;
  w.num(whole);
  w.byte(0x2e);
  if (frac === 0) {
    w.byte(0x30);
    return;
  }
  let digits = 6;
  while (frac % 10 === 0) {
    frac /= 10;
    digits--;
  }
  w.digits(frac, digits);
}

/** As writeDelta, for a span past 2^53 ns. */
function vyosDelta(ns: bigint): string {
  const sign = ns < 0n ? -1n : 1n;
  const abs = ns * sign;
  let us = abs / 1000n;
  const rem = abs % 1000n;
  if (rem > 500n || (rem === 500n && us % 2n === 1n)) us += 1n;
  return pyFloat(Number(us * sign) / 1e6);
}

function pyFloat(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  const a = Math.abs(v);
  if (a !== 0 && a < 1e-4) {
    // Python: 5e-05; JavaScript: 5e-5.
    return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return String(v);
}

/** Writes the line of `ev` (without a newline). */
export function writeVyos(ev: ConntrackEvent, w: LineWriter): void {
  w.bytes(TAGS[ev.type]);
  if (ev.id !== undefined) {
    w.byte(SP);
    w.num(ev.id);
  }
  w.byte(SP);
  w.padEnd(ev.protoName, 8);
  w.byte(SP);
  w.num(ev.proto);
  if (ev.timeout !== undefined) {
    w.byte(SP);
    w.num(ev.timeout);
  }
  const state = stateToken(ev);
  if (state !== undefined) {
    w.byte(SP);
    w.str(state);
  }
  const status = ev.status ?? 0;
  flow(w, ev.orig, ev.origCounters);
  if (!(status & IPS.SEEN_REPLY)) w.bytes(B_UNREPLIED);
  flow(w, ev.reply, ev.replyCounters);
  if (ev.mark !== undefined) {
    w.bytes(B_MARK);
    w.num(ev.mark);
  }
  if (status & IPS.OFFLOAD) w.bytes(B_OFFLOAD);
  else if (status & IPS.ASSURED) w.bytes(B_ASSURED);
  if (ev.portid) {
    w.bytes(B_PORTID);
    w.num(ev.portid);
  }
  if (ev.start !== undefined) {
    w.bytes(B_START);
    w.time(ev.start);
    if (ev.stop !== undefined) {
      w.bytes(B_STOP);
      w.time(ev.stop);
      w.bytes(B_DELTA);
      writeDelta(w, ev.start, ev.stop);
    }
  }
}

/** The line of `ev` as a string (without a newline). */
export function formatVyos(ev: ConntrackEvent): string {
  return lineOf((w) => writeVyos(ev, w));
}

export const vyosFormat = defineFormat({ name: 'vyos', doc: "the VyOS logger's line", keys: {}, make: () => writeVyos });
