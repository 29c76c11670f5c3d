/**
 * The IPFIX output: NAT event records (RFC 8158) in IPFIX messages (RFC
 * 7011) to a collector, over UDP or TCP. The daemon writes each event as a
 * record (record.ts) where the other outputs get a line; this module owns
 * which events have one.
 */
import { defineOutput } from '../definition.js';
import type { Ledger } from '../ledger.js';
import { queuedSink, tcpTransport, udpTransport } from '../net/index.js';
import type { EventSink, Report } from '../sink.js';
import { IpfixDatagrams, IpfixStream, type IpfixOptions } from './framer.js';
import { IPFIX_KEYS, ipfixRules, type IpfixConfig } from './keys.js';
import { recordWriter } from './record.js';
import { IPFIX_TYPES } from './template.js';

function ipfixOptions(c: IpfixConfig): IpfixOptions {
  return { domain: c.ipfix_domain_id, messageSize: c.ipfix_message_size, templateIntervalMs: c.ipfix_template_interval * 1000 };
}

export function ipfixSink(c: IpfixConfig, report: Report, ledger: Ledger): EventSink {
  const transport =
    c.ipfix_protocol === 'tcp'
      ? tcpTransport('ipfix', { host: c.ipfix_host, port: c.ipfix_port }, new IpfixStream(ipfixOptions(c)), report, ledger)
      : udpTransport('ipfix', c.ipfix_host, c.ipfix_port, new IpfixDatagrams(ipfixOptions(c)), report, ledger);
  return queuedSink(transport);
}

export const ipfixOutput = defineOutput({
  name: 'ipfix',
  doc: 'NAT event records to an IPFIX collector, the ipfix_* keys; `format` does not apply, and UPDATE events are not subscribed: they have no record',
  keys: IPFIX_KEYS,
  // No UPDATE: it has no record.
  types: IPFIX_TYPES,
  check: ipfixRules,
  encoder: (c) => recordWriter(c.ipfix_nat_event),
  writesAs: 'ipfix records',
  open: ipfixSink,
});
