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

/**
 * Throws ConfigError for the first rule `config` breaks; `where` names the
 * file (or `config`), `configFile` is its path; `listed`: the outputs are
 * the entries of `outputs` (their lines say `outputs[i].key`), not the flat keys.
 */
export function checkAcross(config: Config, where: string, configFile: string | undefined, listed: boolean): void {
  const at = (i: number) => (listed ? `${where}: outputs[${i}].` : `${where}: `);
  /** Each file an output appends to, by identity: the output's index. */
  const written = new Map<string, number>();
  config.outputs.forEach((o, i) => {
    for (const d of OUTPUT_DEFINITIONS) {
      const broken = d.check?.(o);
      if (broken) throw new ConfigError(`${at(i)}${broken}`);
    }
    const writes = outputDefinition(o.output).writes?.(o);
    if (!writes) return;
    const read = readBy(writes[1], config, configFile);
    if (read) {
      throw new ConfigError(
        `${at(i)}${writes[0]}: is ${read}, which ctlogd reads; events appended to it would spoil it: name another file: value was ${show(writes[1])}`,
      );
    }
    const same = written.get(fileId(writes[1]) ?? writes[1]);
    if (same !== undefined) {
      throw new ConfigError(
        `${at(i)}${writes[0]}: is the file outputs[${same}] (${config.outputs[same].name}) appends to; two outputs in one file would mix their lines: name another file: value was ${show(writes[1])}`,
      );
    }
    written.set(fileId(writes[1]) ?? writes[1], i);
  });
  const conflict = filterConflict(config);
  if (conflict) throw new ConfigError(`${where}: ${conflict}`);
}

/** Makes each output's values whole once checked (output/definition.ts complete). */
export function complete(config: Config): void {
  // Every definition's, as each output holds every output's keys.
  for (const o of config.outputs) for (const d of OUTPUT_DEFINITIONS) d.complete?.(o);
}

/** A file's identity (device and inode), or undefined if it is not there (or not to be seen: the output's own open says why). */
function fileId(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Which file that ctlogd reads (the config, a file an output reads: a TLS
 * key, certificate or CA) `file` is, if it is one: the same file by device
 * and inode, under any name. A file not there yet is none of them.
 */
function readBy(file: string, config: Config, configFile: string | undefined): string | undefined {
  const id = fileId;
  const out = id(file);
  if (out === undefined) return undefined;
  if (configFile !== undefined && id(configFile) === out) return 'the config file';
  for (const [i, o] of config.outputs.entries()) {
    for (const d of OUTPUT_DEFINITIONS) {
      for (const [key, path] of d.reads?.(o) ?? []) {
        if (path !== '' && id(path) === out) return config.outputs.length > 1 ? `the file of outputs[${i}].${key}` : `the file of ${key}`;
      }
    }
  }
  return undefined;
}
