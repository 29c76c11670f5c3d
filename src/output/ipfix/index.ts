/**
 * The IPFIX output: NAT event records (RFC 8158) in IPFIX messages (RFC
 * 7011) to a collector, over UDP or TCP. The daemon writes each event as a
 * record (record.ts) where the other outputs get a line; this module owns
 * which events have one.
 */
import type { Config } from '../../config.js';
import type { Ledger } from '../ledger.js';
import type { EventSink, Report } from '../sink.js';
import { queuedSink } from '../syslog/index.js';
import { IpfixTcpTransport } from './tcp.js';
import { IpfixUdpTransport, type IpfixOptions } from './udp.js';

export { recordWriter } from './record.js';
export { IPFIX_TYPES } from './template.js';

/** The ipfix_* keys. */
export type IpfixConfig = Pick<Config, Extract<keyof Config, `ipfix_${string}`>>;

export function ipfixOptions(c: IpfixConfig): IpfixOptions {
  return { domain: c.ipfix_domain_id, messageSize: c.ipfix_message_size, templateIntervalMs: c.ipfix_template_interval * 1000 };
}

export function ipfixSink(c: IpfixConfig, report: Report, ledger: Ledger): EventSink {
  const transport =
    c.ipfix_protocol === 'tcp'
      ? new IpfixTcpTransport(c.ipfix_host, c.ipfix_port, ipfixOptions(c), report, ledger)
      : new IpfixUdpTransport(c.ipfix_host, c.ipfix_port, ipfixOptions(c), report, ledger);
  return queuedSink('ipfix', transport, report, ledger);
}
