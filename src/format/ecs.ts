/**
 * The `ecs` output format: one JSON object per event, one line, with
 * Elastic Common Schema names (ECS_VERSION), described by
 * schema/ecs.schema.json.
 *
 * ECS fields hold what ECS has a name for: the times (`@timestamp`,
 * `event.*`), the original direction as `source` and `destination` with
 * their counters, the post-NAT addresses as `source.nat` and
 * `destination.nat`, the protocol and the Community ID under `network`.
 * Everything else ctlogd decodes is under `ctlogd`, with the `json`
 * format's names. An attribute the kernel did not send is absent, never 0.
 *
 * As json.ts, the line is written piece by piece into the batch's bytes:
 * it runs once per event. Counters and durations are JSON numbers (ECS
 * types them `long`), digit for digit: exact up to 2^53 (a counter past
 * that is rounded when read from the kernel; a duration past 104 days is
 * exact too).
 */
import { spanNs, type ConntrackEvent, type Counters, type EventType, type Time, type Tuple } from '../event.js';
import { IPPROTO } from '../names.js';
import { communityId } from './community-id.js';
import { isoNs, writeEntry, writeTuple, writeTupleMembers } from './json.js';
import { defineFormat } from './definition.js';
import { ascii, lineOf, type LineWriter } from './line.js';

/** The ECS release whose field reference this format follows (ecs.version). */
export const ECS_VERSION = '9.4.0';

const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE = 0x7d; // }

/**
 * event.type and event.action per event type. ECS allows, for category
 * network: access, allowed, connection, denied, end, info, protocol,
 * start. NEW starts a connection and DESTROY ends it; an UPDATE (a state
 * or status change of a live connection) is a `connection` event alone:
 * `info` is for events that report no change, and `change` is not allowed
 * with network.
 */
const EVENT_KIND: Record<EventType, Uint8Array> = {
  new: ascii('"type":["connection","start"],"action":"conntrack-new"'),
  update: ascii('"type":["connection"],"action":"conntrack-update"'),
  destroy: ascii('"type":["connection","end"],"action":"conntrack-destroy"'),
};

/**
 * network.transport: the IANA protocol keyword, lower case, as ECS asks
 * (ICMPv6 is IANA's `ipv6-icmp`), for the protocols conntrack names; any
 * other number has network.iana_number only.
 */
const TRANSPORT = new Map<number, string>([
  [IPPROTO.TCP, 'tcp'],
  [IPPROTO.UDP, 'udp'],
  [IPPROTO.UDPLITE, 'udplite'],
  [IPPROTO.ICMP, 'icmp'],
  [IPPROTO.ICMPV6, 'ipv6-icmp'],
  [IPPROTO.SCTP, 'sctp'],
  [IPPROTO.DCCP, 'dccp'],
  [IPPROTO.GRE, 'gre'],
]);

/** `"transport":"tcp","iana_number":"6"` per protocol number (network.iana_number is a keyword: a string). */
const PROTO_TEXT: Uint8Array[] = Array.from({ length: 256 }, (_, n) => {
  const name = TRANSPORT.get(n);
  return ascii(`${name === undefined ? '' : `"transport":"${name}",`}"iana_number":"${n}"`);
});

const K_HEAD = ascii('{"@timestamp":"');
const K_ECS = ascii(`","ecs":{"version":"${ECS_VERSION}"},"event":{"kind":"event","category":["network"],`);
const K_CREATED = ascii(',"created":"');
const K_START = ascii(',"start":"');
const K_END = ascii(',"end":"');
const K_DURATION = ascii(',"duration":');
const K_SOURCE = ascii(',"source":{');
const K_DESTINATION = ascii(',"destination":{');
const K_IP = ascii('"ip":"');
const K_PORT = ascii('"port":');
const K_BYTES = ascii('"bytes":');
const K_PACKETS = ascii(',"packets":');
const K_NAT_IP = ascii('"nat":{"ip":"');
const K_NETWORK_V4 = ascii(',"network":{"type":"ipv4",');
const K_NETWORK_V6 = ascii(',"network":{"type":"ipv6",');
const K_COMMUNITY_ID = ascii(',"community_id":"');
const K_CTLOGD = ascii(',"ctlogd":{"type":"');
const K_ID = ascii(',"id":');
const K_STATE = ascii(',"state":"');
const K_STATE_NUM = ascii('","state_num":');
const K_TIMEOUT = ascii(',"timeout":');
const K_ORIG = ascii(',"orig":{');
const K_REPLY = ascii(',"reply":');
const K_PORTID = ascii(',"portid":');
const K_PROGNAME = ascii(',"progname":');

/** The ISO text of the last read time written: events read together share it. */
let lastTime: Time = { sec: -1, nsec: -1 };
let lastIso = '';

function readTime(t: Time): string {
  if (t.sec !== lastTime.sec || t.nsec !== lastTime.nsec) {
    lastIso = isoNs(t);
    lastTime = { ...t };
  }
  return lastIso;
}

/** `,"name":"<ISO time>"` */
function time(w: LineWriter, name: Uint8Array, t: Time): void {
  w.bytes(name);
  w.str(isoNs(t));
  w.byte(QUOTE);
}

/**
 * One endpoint: address, port, counters, and the translated address and
 * port when they differ from the original ones. Omitted when it has none
 * of these.
 */
function endpoint(
  w: LineWriter,
  open: Uint8Array,
  ip: string | undefined,
  port: number | undefined,
  c: Counters | undefined,
  natIp: string | undefined,
  natPort: number | undefined,
): void {
  const mark = w.length;
  w.bytes(open);
  let first = true;
  if (ip !== undefined) {
    first = key(w, first, K_IP);
    w.str(ip);
    w.byte(QUOTE);
  }
  if (port !== undefined) {
    first = key(w, first, K_PORT);
    w.num(port);
  }
  if (c !== undefined) {
    first = key(w, first, K_BYTES);
    w.num(c.bytes);
    w.bytes(K_PACKETS);
    w.num(c.packets);
  }
  if (natIp !== undefined && (natIp !== ip || (natPort !== undefined && natPort !== port))) {
    first = key(w, first, K_NAT_IP);
    w.str(natIp);
    w.byte(QUOTE);
    if (natPort !== undefined) {
      w.byte(COMMA);
      w.bytes(K_PORT);
      w.num(natPort);
    }
    w.byte(CLOSE);
  }
  if (first) w.truncate(mark);
  else w.byte(CLOSE);
}

/** `"name":` after a comma unless it is the first member. */
function key(w: LineWriter, first: boolean, name: Uint8Array): false {
  if (!first) w.byte(COMMA);
  w.bytes(name);
  return false;
}

/** What of the original tuple has no ECS name: ICMP type, code and id, GRE keys, its zone. Omitted when empty. */
function origRest(w: LineWriter, t: Tuple, gre: boolean): void {
  const mark = w.length;
  w.bytes(K_ORIG);
  const first = writeTupleMembers(w, t, gre, true, false);
  if (first) w.truncate(mark);
  else w.byte(CLOSE);
}

/**
 * Writes one event as one line of ECS JSON (no newline).
 *
 * `@timestamp` is the kernel's event time (CTA_TIMESTAMP_EVENT) when it
 * sent one, and then `event.created` is when ctlogd read the event;
 * otherwise `@timestamp` is the read time and there is no `event.created`
 * (ECS: when both would be the same, only `@timestamp`).
 */
export function writeEcs(ev: ConntrackEvent, w: LineWriter): void {
  const o = ev.orig;
  const r = ev.reply;
  w.bytes(K_HEAD);
  w.str(ev.eventTime !== undefined ? isoNs(ev.eventTime) : readTime(ev.time));
  w.bytes(K_ECS);
  w.bytes(EVENT_KIND[ev.type]);
  if (ev.eventTime !== undefined) {
    w.bytes(K_CREATED);
    w.str(readTime(ev.time));
    w.byte(QUOTE);
  }
  if (ev.start !== undefined) time(w, K_START, ev.start);
  if (ev.stop !== undefined) time(w, K_END, ev.stop);
  // Negative only if the wall clock was stepped back during the flow.
  if (ev.start !== undefined && ev.stop !== undefined) {
    w.bytes(K_DURATION);
    w.int(spanNs(ev.start, ev.stop));
  }
  w.byte(CLOSE);

  // GRE's port attributes carry keys (under ctlogd), ICMP has none.
  const gre = ev.proto === IPPROTO.GRE;
  const sport = gre ? undefined : o.sport;
  const dport = gre ? undefined : o.dport;
  // After source NAT the reply goes to the translated source; after
  // destination NAT it comes from the translated destination.
  endpoint(w, K_SOURCE, o.src, sport, ev.origCounters, r.dst, gre ? undefined : r.dport);
  endpoint(w, K_DESTINATION, o.dst, dport, ev.replyCounters, r.src, gre ? undefined : r.sport);

  w.bytes(ev.family === 'ipv6' ? K_NETWORK_V6 : K_NETWORK_V4);
  w.bytes(PROTO_TEXT[ev.proto & 0xff]);
  const oc = ev.origCounters;
  const rc = ev.replyCounters;
  if (oc !== undefined && rc !== undefined) {
    w.byte(COMMA);
    w.bytes(K_BYTES);
    w.num(oc.bytes + rc.bytes);
    w.bytes(K_PACKETS);
    w.num(oc.packets + rc.packets);
  }
  if (o.src !== undefined && o.dst !== undefined) {
    const icmp = ev.proto === IPPROTO.ICMP || ev.proto === IPPROTO.ICMPV6;
    const id = icmp ? communityId(o.src, o.dst, ev.proto, o.icmpType, o.icmpCode) : communityId(o.src, o.dst, ev.proto, o.sport, o.dport);
    if (id !== undefined) {
      w.bytes(K_COMMUNITY_ID);
      w.str(id);
      w.byte(QUOTE);
    }
  }
  w.byte(CLOSE);

  // type and stateName come from fixed tables: no escaping needed.
  w.bytes(K_CTLOGD);
  w.str(ev.type);
  w.byte(QUOTE);
  if (ev.id !== undefined) num(w, K_ID, ev.id);
  if (ev.stateName !== undefined && ev.state !== undefined) {
    w.bytes(K_STATE);
    w.str(ev.stateName);
    num(w, K_STATE_NUM, ev.state);
  }
  if (ev.timeout !== undefined) num(w, K_TIMEOUT, ev.timeout);
  writeEntry(w, ev);
  origRest(w, o, gre);
  w.bytes(K_REPLY);
  writeTuple(w, r, gre, undefined);
  num(w, K_PORTID, ev.portid);
  if (ev.progname !== undefined) {
    w.bytes(K_PROGNAME);
    w.str(JSON.stringify(ev.progname));
  }
  w.byte(CLOSE);
  w.byte(CLOSE);
}

/** `,"name":N` */
function num(w: LineWriter, name: Uint8Array, n: number): void {
  w.bytes(name);
  w.num(n);
}

/** One event as one line of ECS JSON (no newline); see writeEcs. */
export function formatEcs(ev: ConntrackEvent): string {
  return lineOf((w) => writeEcs(ev, w));
}

export const ecsFormat = defineFormat({ name: 'ecs', doc: 'Elastic Common Schema, with the Community ID', keys: {}, make: () => writeEcs });
