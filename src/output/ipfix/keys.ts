/** The IPFIX output's keys, and what they ask of each other. */
import { show } from '../../config/error.js';
import { hostRule, integer, oneOf, option, type Values } from '../../config/rules.js';
import type { EventConfig } from '../../config/schema.js';
import { IPFIX_TYPES, NAT_EVENTS } from './template.js';

export const IPFIX_KEYS = {
  ...option(
    'ipfix_host',
    'With output `ipfix`: the IPFIX collector (nfcapd, nfacctd, GoFlow2, ...) to send NAT event records to (required then).',
    '',
    hostRule(),
  ),
  ...option('ipfix_port', "With output `ipfix`: the collector's port (4739 is IPFIX's).", 4739, integer(1, 65535)),
  ...option(
    'ipfix_protocol',
    "With output `ipfix`: `udp` (RFC 7011 §10.3; templates are sent again every ipfix_template_interval) or `tcp` (§10.4; a record is written once the collector's TCP acknowledged it).",
    'udp',
    oneOf(['udp', 'tcp']),
  ),
  ...option('ipfix_domain_id', 'With output `ipfix`: the observation domain id of every message.', 0, integer(0, 4294967295)),
  ...option(
    'ipfix_nat_event',
    'With output `ipfix`: natEvent values: `rfc8158` (NAT44 session create 4, delete 5) or `legacy` (1 and 2, the generic NAT translation create and delete, for collectors that know only those).',
    'rfc8158',
    oneOf(Object.keys(NAT_EVENTS) as Array<keyof typeof NAT_EVENTS>),
  ),
  ...option(
    'ipfix_message_size',
    'With output `ipfix`: the largest IPFIX message in bytes; over UDP one message is one datagram, and 1400 fits a 1500-byte MTU with the IP and UDP headers.',
    1400,
    integer(512, 65507),
  ),
  ...option(
    'ipfix_template_interval',
    'With output `ipfix` over UDP: seconds after which the templates are sent again, before the next records, so that a collector started later decodes from then on.',
    10,
    integer(1, 86400),
  ),
};

/** The ipfix_* keys. */
export type IpfixConfig = Values<typeof IPFIX_KEYS>;

/** What the IPFIX output asks of its keys and of `event` when it is the output. */
export function ipfixRules(c: IpfixConfig & { output: string; event: EventConfig }): string | undefined {
  if (c.output !== 'ipfix') return undefined;
  if (c.ipfix_host === '') {
    return `ipfix_host: must be the collector's address or name when output is "ipfix" (set ipfix_host, CTLOGD_IPFIX_HOST or --ipfix-host): value was ""`;
  }
  if (!IPFIX_TYPES.some((t) => t in c.event)) {
    return `event: must name ${IPFIX_TYPES.join(' or ')} when output is "ipfix" (the events with a record): value was ${show(c.event)}`;
  }
  return undefined;
}
