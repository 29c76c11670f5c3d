/**
 * The VyOS logger's line (vyos-conntrack-logger), token for token, with its
 * padding: `[NEW]     2800357913 tcp      6 120 SYN_SENT src=... dst=...`.
 * Unlike VyOS, it prints counters when the kernel sent them, prints `start=`
 * alone on NEW (VyOS crashes there), and leaves no doubled or trailing space.
 */
import { IPS, type ConntrackEvent, type Counters, type Tuple } from '../event.js';
import { lineOf, type LineWriter } from './line.js';

const SP = 0x20;

const TAGS = { new: '[NEW]    ', update: '[UPDATE] ', destroy: '[DESTROY]' } as const;

// VyOS's own tables (TCP_CONNTRACK_TO_NAME, SCTP_CONNTRACK_TO_NAME): they
// differ from conntrack-tools' (9 is LISTEN here, SYN_SENT2 there), and a
// number missing from them prints as `unknown`.
const TCP_STATES: Record<number, string> = {
  1: 'SYN_SENT', 2: 'SYN_RECV', 3: 'ESTABLISHED', 4: 'FIN_WAIT', 5: 'CLOSE_WAIT', 6: 'LAST_ACK',
  7: 'TIME_WAIT', 8: 'CLOSE', 9: 'LISTEN', 10: 'MAX', 11: 'IGNORE', 12: 'RETRANS', 13: 'UNACK',
  14: 'TIMEOUT_MAX',
};
const SCTP_STATES: Record<number, string> = {
  1: 'CLOSED', 2: 'COOKIE_WAIT', 3: 'COOKIE_ECHOED', 4: 'ESTABLISHED', 5: 'SHUTDOWN_SENT',
  6: 'SHUTDOWN_RECD', 7: 'SHUTDOWN_ACK_SENT', 8: 'HEARTBEAT_SENT', 9: 'HEARTBEAT_ACKED', 10: 'MAX',
};

function stateToken(ev: ConntrackEvent): string | undefined {
  if (ev.state === undefined) return undefined;
  if (ev.stateProto === 'tcp') return TCP_STATES[ev.state] ?? 'unknown';
  if (ev.stateProto === 'sctp') return SCTP_STATES[ev.state] ?? 'unknown';
  // VyOS ignores DCCP state; an operator still wants it.
  return ev.stateName ?? 'unknown';
}

function flow(w: LineWriter, t: Tuple, c: Counters | undefined): void {
  w.str(' src=');
  w.str(t.src ?? '');
  w.str(' dst=');
  w.str(t.dst ?? '');
  if (t.sport !== undefined) {
    w.str(' sport=');
    w.num(t.sport);
  }
  if (t.dport !== undefined) {
    w.str(' dport=');
    w.num(t.dport);
  }
  if (t.icmpType !== undefined) {
    w.str(' type=');
    w.num(t.icmpType);
  }
  if (t.icmpCode !== undefined) {
    w.str(' code=');
    w.num(t.icmpCode);
  }
  if (t.icmpId !== undefined) {
    w.str(' id=');
    w.num(t.icmpId);
  }
  if (c) {
    w.str(' packets=');
    w.big(c.packets);
    w.str(' bytes=');
    w.big(c.bytes);
  }
}

/**
 * VyOS prints `delta=` as Python's timedelta(...).total_seconds(): whole
 * microseconds (rounded half to even), in Python's float repr.
 */
function vyosDelta(start: bigint, stop: bigint): string {
  const ns = stop - start;
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
  w.str(TAGS[ev.type]);
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
  if (!(status & IPS.SEEN_REPLY)) w.str(' [UNREPLIED]');
  flow(w, ev.reply, ev.replyCounters);
  if (ev.mark !== undefined) {
    w.str(' mark=');
    w.num(ev.mark);
  }
  if (status & IPS.OFFLOAD) w.str(' [OFFLOAD]');
  else if (status & IPS.ASSURED) w.str(' [ASSURED]');
  if (ev.portid) {
    w.str(' portid=');
    w.num(ev.portid);
  }
  if (ev.start !== undefined) {
    w.str(' start=');
    w.big(ev.start);
    if (ev.stop !== undefined) {
      w.str(' stop=');
      w.big(ev.stop);
      w.str(' delta=');
      w.str(vyosDelta(ev.start, ev.stop));
    }
  }
}

/** The line of `ev` as a string (without a newline). */
export function formatVyos(ev: ConntrackEvent): string {
  return lineOf((w) => writeVyos(ev, w));
}
