/** Picks the line formatter for the configured format. */
import type { Config } from '../config.js';
import type { ConntrackEvent } from '../event.js';
import { formatConntrack, type ConntrackFormatOptions } from './conntrack.js';
import { formatJson } from './json.js';
import { formatVyos } from './vyos.js';

export type Formatter = (ev: ConntrackEvent) => string;

export function makeFormatter(config: Pick<Config, 'format' | 'conntrackOptions'>): Formatter {
  switch (config.format) {
    case 'vyos':
      return formatVyos;
    case 'json':
      return formatJson;
    case 'conntrack': {
      const opts: ConntrackFormatOptions = {};
      for (const o of config.conntrackOptions) opts[o as keyof ConntrackFormatOptions] = true;
      return (ev) => formatConntrack(ev, opts);
    }
  }
}
