/** Picks the line writer for the configured format. */
import type { OutputConfig } from '../config.js';
import type { ConntrackEvent } from '../event.js';
import { writeConntrack, type ConntrackFormatOptions } from './conntrack.js';
import { writeEcs } from './ecs.js';
import { writeJson } from './json.js';
import type { LineWriter } from './line.js';
import { writeVyos } from './vyos.js';

export { LineWriter } from './line.js';

/** Appends the line of one event, without its newline. */
export type Formatter = (ev: ConntrackEvent, w: LineWriter) => void;

export function makeFormatter(config: Pick<OutputConfig, 'format' | 'conntrack_options'>): Formatter {
  switch (config.format) {
    case 'vyos':
      return writeVyos;
    case 'json':
      return writeJson;
    case 'ecs':
      return writeEcs;
    case 'conntrack': {
      const opts: ConntrackFormatOptions = {};
      for (const o of config.conntrack_options) opts[o] = true;
      return (ev, w) => writeConntrack(ev, w, opts);
    }
  }
}
