/**
 * Loading the config: the file (read by file.ts) < CTLOGD_*
 * environment < flags, each value checked where it came from, then the
 * rules across keys (across.ts).
 *
 * Every bad input is refused with one line: where it came from (the file,
 * a CTLOGD_* variable, a flag), the key, what is allowed, and the value
 * (cut to a readable length, echo.ts).
 */
import convict from 'convict';
import { NotAConfig, readConfigFile, readConfigFileSync } from './file.js';
import { echo } from '../echo.js';
import { checkAcross, complete } from './across.js';
import { ConfigError, show } from './error.js';
import { resolveOutputs, type OutputEntry } from './outputs.js';
import { Invalid, isPlainObject, type Values } from './rules.js';
import { DEFAULT_CONFIG, EVENT, ITEMS, KEYS, OUTPUT_ITEM_KEYS, OUTPUT_ITEMS, type Config, type EventConfig, type Key, type OutputConfig } from './schema.js';

/**
 * convict's schema, with each key's rule registered as a convict format,
 * so that convict coerces strings with it (and validates with it).
 */
const CONVICT_SCHEMA = Object.fromEntries(
  KEYS.map((key) => {
    const { doc, default: def, rule, env, arg } = ITEMS[key];
    const format = `ctlogd ${key}`;
    convict.addFormat({ name: format, validate: (v: unknown) => rule.check(v), coerce: rule.coerce });
    return [key, { doc, default: def, format, env, arg, nullable: def === null }];
  }),
);

export interface LoadOptions {
  /** Path of the JSON file; without it the embedded default is used. */
  path?: string;
  /**
   * Command-line overrides as the CLI parsed them (node's parseArgs): by
   * flag name without `--` (`queue-size`), the value given; a boolean key's
   * flag given alone is `true`.
   */
  flags?: Record<string, string | boolean | undefined>;
  env?: NodeJS.ProcessEnv;
}

/**
 * What Node makes of a byte in argv or the environment that is not UTF-8:
 * a value holding it names something other than what was given (another
 * file), so it is refused.
 */
const REPLACEMENT = '\ufffd';

const notUtf8 = (label: string, value: string): ConfigError =>
  new ConfigError(`${label}: not UTF-8: a byte the system could not decode (shown as U+FFFD); name it in UTF-8: value was ${show(value)}`);

/** `config PATH`, as error lines name the file. */
const fileLabel = (path: string): string => `config ${echo(path)}`;

/** The -c path, refused if Node could not decode it. */
function configPath(path: string): string {
  if (path.includes(REPLACEMENT)) throw notUtf8(fileLabel(path), path);
  return path;
}

/** A NotAConfig as the one line that names the file; anything else as it is. */
const fileError = (e: unknown, path: string): unknown => (e instanceof NotAConfig ? new ConfigError(`${fileLabel(path)}: ${e.message}`) : e);

/** The flags' keys and labels (`--queue-size (queue_size)`), in the order given. */
function flagKeys(flags: Record<string, string | boolean | undefined>): Array<[Key, string, string | boolean]> {
  const byArg = new Map(KEYS.filter((k) => ITEMS[k].arg).map((k) => [ITEMS[k].arg!, k]));
  const out: Array<[Key, string, string | boolean]> = [];
  for (const [name, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const key = byArg.get(name);
    if (!key) throw new ConfigError(`${echo(`--${name}`)}: unknown flag; allowed: ${[...byArg.keys()].map((a) => `--${a}`).join(', ')}`);
    out.push([key, `--${name}`, value]);
  }
  return out;
}

/**
 * Reads and validates the config. Throws ConfigError with one line.
 *
 * Precedence is convict's: defaults < file < CTLOGD_* environment < flags.
 * The layers are applied here one by one with `set`, which coerces as
 * convict's own import does, rather than by convict's `load`, because:
 * - each value is checked where it came from, so the message can name the
 *   variable or flag, and a bad value is refused even when a later layer
 *   overrides it (convict keeps no record of a value's origin);
 * - convict parses flags with yargs-parser, which rewrites values that look
 *   like numbers ("0x10" becomes 16, "1e3" 1000, "1.0" 1) and strips quotes;
 * - `load` merges a file's objects into the defaults and throws a
 *   TypeError on an object nested twice under a key that is not format
 *   Object (`"queue_size": {"a": {"b": 1}}`).
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  // `-c ''` is a missing file, not "no --config".
  if (opts.path === undefined) return layered(DEFAULT_CONFIG, opts);
  const path = configPath(opts.path);
  let file: unknown;
  try {
    file = readConfigFileSync(path);
  } catch (e) {
    throw fileError(e, path);
  }
  return layered(file, opts);
}

/** loadConfig, with the file read without blocking the event loop (for a reload). */
export async function loadConfigAsync(opts: LoadOptions = {}): Promise<Config> {
  if (opts.path === undefined) return layered(DEFAULT_CONFIG, opts);
  const path = configPath(opts.path);
  let file: unknown;
  try {
    file = await readConfigFile(path);
  } catch (e) {
    throw fileError(e, path);
  }
  return layered(file, opts);
}

/**
 * The outputs of `c`: the entries of `outputs`, or the one of the flat
 * keys; throws ConfigError if both are given, or for an entry that asks
 * for events not subscribed or takes a name another has.
 */
function outputsOf(c: Record<Key, unknown> & { outputs: OutputEntry[] }, setBy: ReadonlyMap<Key, string>, where: string): OutputConfig[] {
  if (c.outputs.length > 0) {
    const flat = OUTPUT_ITEM_KEYS.find((key) => setBy.has(key));
    if (flat) {
      throw new ConfigError(
        `${setBy.get(flat)}: must not be set beside outputs: with outputs, each output's keys go in its entry (the top-level ones are the one output of a config without outputs): value was ${show(c[flat])}`,
      );
    }
  }
  const flat = Object.fromEntries(OUTPUT_ITEM_KEYS.map((key) => [key, c[key]])) as Values<typeof OUTPUT_ITEMS>;
  try {
    return resolveOutputs(OUTPUT_ITEMS, c.outputs, c.event as EventConfig, flat);
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    throw new ConfigError(`${where}: outputs${e.at}: ${e.message}${e.value === undefined ? '' : `: value was ${show(e.value)}`}`);
  }
}

/** The config from the file's value (or the default), the environment and the flags. */
function layered(raw: unknown, opts: LoadOptions): Config {
  const where = opts.path !== undefined ? fileLabel(opts.path) : 'config';
  if (!isPlainObject(raw)) throw new ConfigError(`${where}: must be a JSON object with the keys ${KEYS.join(', ')}: value was ${show(raw)}`);
  const file = raw;
  const env = opts.env ?? process.env;
  const flags = flagKeys(opts.flags ?? {});

  // Neither process.env nor process.argv: convict reads them when not given.
  const c = convict(CONVICT_SCHEMA, { env: {}, args: [] });
  /** Where each key was last set, as its error lines name it. */
  const setBy = new Map<Key, string>();
  const set = (key: Key, value: unknown, label: (name: string) => string): void => {
    setBy.set(key, label(key));
    c.set(key, value as never);
    try {
      // convict coerces strings only; other values are checked as given,
      // as c.get's deep copy would drop a "__proto__" key.
      ITEMS[key].rule.check(typeof value === 'string' ? c.get(key) : value);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      const name = !e.at ? key : e.at.startsWith('[') ? `${key}${e.at}` : `${key}.${e.at}`;
      throw new ConfigError(`${label(name)}: ${e.message}: value was ${show(e.at ? e.value : value)}`);
    }
  };

  for (const [key, value] of Object.entries(file)) {
    if (!(KEYS as string[]).includes(key)) throw new ConfigError(`${where}: ${echo(key)}: unknown key; allowed: ${KEYS.join(', ')}: value was ${show(value)}`);
    set(key as Key, value, (name) => `${where}: ${name}`);
  }
  if (!('event' in file)) throw new ConfigError(`${where}: event: missing; must be ${EVENT.allowed}`);
  for (const key of KEYS) {
    const name = ITEMS[key].env;
    const value = env[name ?? ''];
    if (name === undefined || value === undefined) continue;
    if (value.includes(REPLACEMENT)) throw notUtf8(`${name} (${key})`, value);
    set(key, value, () => `${name} (${key})`);
  }
  for (const [key, flag, value] of flags) {
    if (typeof value === 'string' && value.includes(REPLACEMENT)) throw notUtf8(`${flag} (${key})`, value);
    set(key, value, () => `${flag} (${key})`);
  }

  // Every value set above is checked; this also covers the defaults.
  try {
    c.validate({ allowed: 'strict' });
  } catch (e) {
    throw new ConfigError(`${where}: ${(e as Error).message.split('\n')[0]}`);
  }
  // Each field is its rule's value, of the type Config gives it.
  const p: Record<string, unknown> = c.getProperties();
  const values = Object.fromEntries(KEYS.map((key) => [key, ITEMS[key].rule.value(p[key])])) as Record<Key, unknown> & { outputs: OutputEntry[] };
  // The flat output keys are the one output of a config without `outputs`; Config has its outputs in `outputs` only.
  const general = Object.fromEntries(KEYS.filter((key) => !(OUTPUT_ITEM_KEYS as string[]).includes(key)).map((key) => [key, values[key]]));
  const config = { ...general, outputs: outputsOf(values, setBy, where) } as Config;
  checkAcross(config, where, opts.path, values.outputs.length > 0);
  complete(config);
  return config;
}
