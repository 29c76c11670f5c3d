/**
 * The rules across keys: what one key's value asks of another's (an
 * output's required keys, a client certificate's pair, conntrack's filters
 * that exclude each other, a file the output may not be).
 */
import { statSync } from 'node:fs';
import { filterConflict } from '../conntrack-filter.js';
import { IPFIX_TYPES } from '../output/ipfix/template.js';
import { ConfigError, show } from './error.js';
import type { Config } from './schema.js';

/** Throws ConfigError for the first rule `config` breaks; `where` names the file (or `config`), `configFile` is its path. */
export function checkAcross(config: Config, where: string, configFile: string | undefined): void {
  if (config.output === 'file' && config.output_file === '') {
    throw new ConfigError(
      `${where}: output_file: must be a file path when output is "file" (set output_file, CTLOGD_OUTPUT_FILE or --output-file): value was ""`,
    );
  }
  if (config.output === 'ipfix' && config.ipfix_host === '') {
    throw new ConfigError(
      `${where}: ipfix_host: must be the collector's address or name when output is "ipfix" (set ipfix_host, CTLOGD_IPFIX_HOST or --ipfix-host): value was ""`,
    );
  }
  if (config.output === 'ipfix' && !IPFIX_TYPES.some((t) => t in config.event)) {
    throw new ConfigError(
      `${where}: event: must name ${IPFIX_TYPES.join(' or ')} when output is "ipfix" (the events with a record): value was ${show(config.event)}`,
    );
  }
  // A client certificate is its certificate and its key: one alone is a mistake, not half a login.
  for (const [key, other] of [
    ['syslog_tls_key', 'syslog_tls_cert'],
    ['syslog_tls_cert', 'syslog_tls_key'],
  ] as const) {
    if (config[key] === '' && config[other] !== '') {
      throw new ConfigError(
        `${where}: ${key}: must be set when ${other} is (a client certificate needs both its certificate and its key, or neither): value was ""`,
      );
    }
  }
  const conflict = filterConflict(config);
  if (conflict) throw new ConfigError(`${where}: ${conflict}`);
  const read = readBy(config, configFile);
  if (read) {
    throw new ConfigError(
      `${where}: output_file: is ${read}, which ctlogd reads; events appended to it would spoil it: name another file: value was ${show(config.output_file)}`,
    );
  }
}

/**
 * Which file that ctlogd reads (the config, a TLS key, certificate or CA)
 * output_file is, if it is one: the same file by device and inode, under
 * any name. A file not there yet is none of them.
 */
function readBy(config: Config, configFile: string | undefined): string | undefined {
  if (config.output !== 'file') return undefined;
  const id = (path: string): string | undefined => {
    try {
      const st = statSync(path);
      return `${st.dev}:${st.ino}`;
    } catch {
      // Not there, or not to be seen: the output's own open says why.
      return undefined;
    }
  };
  const out = id(config.output_file);
  if (out === undefined) return undefined;
  const reads: Array<[string, string]> = [
    ['syslog_tls_key', config.syslog_tls_key],
    ['syslog_tls_cert', config.syslog_tls_cert],
    ['syslog_tls_ca', config.syslog_tls_ca],
  ];
  if (configFile !== undefined) reads.unshift(['the config file', configFile]);
  for (const [what, path] of reads) {
    if (path !== '' && id(path) === out) return what === 'the config file' ? what : `the file of ${what}`;
  }
  return undefined;
}
