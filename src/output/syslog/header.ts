/**
 * What comes before each line in a syslog message, by destination.
 *
 * - Remote (UDP, TCP): RFC 5424,
 *   `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG`: APP-NAME is
 *   syslog_tag, PROCID the pid, no MSGID and no structured data (a line is
 *   all there is), MSG the line exactly, without a BOM (receivers keep a BOM
 *   in the message text, and event lines are ASCII but for what the kernel
 *   names, which is UTF-8 anyway).
 * - Local socket: the format of glibc's syslog(3) and util-linux logger for
 *   /dev/log, `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`. RFC 5424 is not parsed
 *   there: systemd-journald, which owns /dev/log on systemd hosts (VyOS
 *   included), does not recognise it (systemd issue #19251), and rsyslog's
 *   imuxsock with its default special parser takes the "1" for the tag and
 *   the whole rest for the message. This format gives both the tag, the pid
 *   and the line intact.
 */
import os from 'node:os';
import { syslogTime } from '../../clock.js';
import { FACILITIES, type SyslogOptions } from './keys.js';
import { OutputError } from '../sink.js';

const SEVERITY_INFO = 6;

/** PRI: the facility's code (its place in FACILITIES) * 8 + the severity, which is always info. */
export function priority(facility: string): number {
  const pri = (FACILITIES as readonly string[]).indexOf(facility) * 8 + SEVERITY_INFO;
  if (pri < 0) throw new OutputError(`syslog_facility: unknown facility ${JSON.stringify(facility)}`);
  return pri;
}

/** The local socket's header, syslog(3)'s: `<PRI>Mmm dd hh:mm:ss TAG[PID]: `. */
export function localHeader(pri: number, tag: string, pid: number, d: Date): string {
  return `<${pri}>${syslogTime(d)} ${tag}[${pid}]: `;
}

/** RFC 5424's header, up to MSG: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - `. */
export function remoteHeader(pri: number, host: string, tag: string, pid: number, d: Date): string {
  return `<${pri}>1 ${d.toISOString()} ${host} ${tag} ${pid} - - `;
}

/** RFC 5424 HOSTNAME: printable ASCII, no spaces, at most 255; `-` when there is none. */
export function hostnameField(h: string): string {
  return /^[\x21-\x7e]{1,255}$/.test(h) ? h : '-';
}

/** Everything before MSG, as bytes, made once per batch (one timestamp for the batch's lines). */
export function headerFor(opts: Pick<SyslogOptions, 'syslog_host' | 'syslog_facility' | 'syslog_tag'>): () => Buffer {
  const pri = priority(opts.syslog_facility);
  const pid = process.pid;
  if (opts.syslog_host === '') return () => Buffer.from(localHeader(pri, opts.syslog_tag, pid, new Date()));
  const host = hostnameField(os.hostname());
  return () => Buffer.from(remoteHeader(pri, host, opts.syslog_tag, pid, new Date()));
}
