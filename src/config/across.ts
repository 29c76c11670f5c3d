/**
 * The rules across keys: what one key's value asks of another's. Each
 * output's own (its required keys, a certificate's pair, which events it
 * can take) are its definition's (output/registry.ts); here, those of
 * conntrack's filters, and that no output appends to a file ctlogd reads.
 */
import { statSync } from 'node:fs';
import { filterConflict } from '../conntrack-filter.js';
import { outputDefinition, OUTPUT_DEFINITIONS } from '../output/registry.js';
import { ConfigError, show } from './error.js';
import type { Config } from './schema.js';

/** Throws ConfigError for the first rule `config` breaks; `where` names the file (or `config`), `configFile` is its path. */
export function checkAcross(config: Config, where: string, configFile: string | undefined): void {
  for (const d of OUTPUT_DEFINITIONS) {
    const broken = d.check?.(config);
    if (broken) throw new ConfigError(`${where}: ${broken}`);
  }
  const conflict = filterConflict(config);
  if (conflict) throw new ConfigError(`${where}: ${conflict}`);
  const writes = outputDefinition(config.output).writes?.(config);
  if (writes) {
    const read = readBy(writes[1], config, configFile);
    if (read) {
      throw new ConfigError(
        `${where}: ${writes[0]}: is ${read}, which ctlogd reads; events appended to it would spoil it: name another file: value was ${show(writes[1])}`,
      );
    }
  }
}

/** Makes each output's values whole once checked (output/definition.ts complete). */
export function complete(config: Config): void {
  for (const d of OUTPUT_DEFINITIONS) d.complete?.(config);
}

/**
 * Which file that ctlogd reads (the config, a file an output reads: a TLS
 * key, certificate or CA) `file` is, if it is one: the same file by device
 * and inode, under any name. A file not there yet is none of them.
 */
function readBy(file: string, config: Config, configFile: string | undefined): string | undefined {
  const id = (path: string): string | undefined => {
    try {
      const st = statSync(path);
      return `${st.dev}:${st.ino}`;
    } catch {
      // Not there, or not to be seen: the output's own open says why.
      return undefined;
    }
  };
  const out = id(file);
  if (out === undefined) return undefined;
  if (configFile !== undefined && id(configFile) === out) return 'the config file';
  for (const d of OUTPUT_DEFINITIONS) {
    for (const [key, path] of d.reads?.(config) ?? []) {
      if (path !== '' && id(path) === out) return `the file of ${key}`;
    }
  }
  return undefined;
}
