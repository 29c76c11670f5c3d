/**
 * `outputs`: a list of outputs, each with the keys one output takes at the
 * top level (the items of OUTPUT_ITEMS: `output`, the format, each
 * output's own keys), plus `name` and `event`. The top level's flat keys
 * stay one output, as VyOS and every flag and variable have them; the
 * config the rest of ctlogd sees has its outputs as this list either way
 * (Config.outputs), each entry whole: its defaults filled, its name and
 * event set.
 */
import { echo } from '../echo.js';
import { EVENT_TYPES } from '../event.js';
import { show } from './error.js';
import { Invalid, isPlainObject, type Items, type Rule, type Values } from './rules.js';
import type { EventConfig } from './schema.js';

/** An output's name: a metrics label value and a word of the stats line. */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const NAME_ALLOWED = '1 to 64 letters, digits, `_`, `.` and `-` (a string)';

/** One entry as the file gives it, checked. */
export type OutputEntry = Record<string, unknown>;

/** One output, whole: its keys' values (the defaults where it gave none), its name and the events it takes. */
export type OutputOf<I extends Items> = Values<I> & {
  /** How the stats line, errors and the metrics' `output` label name it. */
  name: string;
  /** What it takes of the events subscribed: a subset of the config's `event`. */
  event: EventConfig;
};

/**
 * The rule of `outputs`: a non-empty list of objects, each with keys of
 * `items` (checked by their own rules, strings coerced as a file's are)
 * and `name` and `event`. `eventRule` checks an entry's `event` as the
 * top level's is checked; the subset is checked once the top level's is
 * known (resolveOutputs).
 */
export function outputsRule(items: Items, eventRule: Rule<EventConfig>): Rule<OutputEntry[]> {
  const keys = [...Object.keys(items), 'name', 'event'];
  const allowed = `a non-empty list (a JSON array) of outputs, each an object of the keys ${keys.join(', ')}`;
  return {
    allowed,
    check(v) {
      if (!Array.isArray(v) || v.length === 0) throw new Invalid(`must be ${allowed}`);
      v.forEach((entry, i) => {
        if (!isPlainObject(entry)) throw new Invalid(`must be an object of the keys ${keys.join(', ')}`, `[${i}]`, entry);
        for (const [key, value] of Object.entries(entry)) {
          const at = `[${i}].${key}`;
          if (key === 'name') {
            if (typeof value !== 'string' || !NAME.test(value)) throw new Invalid(`must be ${NAME_ALLOWED}`, at, value);
            continue;
          }
          const rule = key === 'event' ? eventRule : items[key]?.rule;
          if (!rule) throw new Invalid(`${echo(key)}: unknown key; allowed: ${keys.join(', ')}`, `[${i}]`, entry);
          try {
            rule.check(coerced(rule, value));
          } catch (e) {
            if (!(e instanceof Invalid)) throw e;
            throw new Invalid(e.message, e.at ? `${at}.${e.at}` : at, e.at ? e.value : value);
          }
        }
      });
    },
    // Absent (null): the flat keys' one output.
    value: (v) => (v ?? []) as OutputEntry[],
  };
}

/** A value as a file gives it, coerced as convict coerces the file's strings. */
const coerced = (rule: Rule<unknown>, v: unknown): unknown => (typeof v === 'string' && rule.coerce ? rule.coerce(v) : v);

/** Where each output's error lines point: `outputs[1]` (its name). */
export const entryLabel = (i: number, name: string): string => `outputs[${i}] (${name})`;

/**
 * The outputs of a checked config: the entries of `outputs`, each made
 * whole, or the one output of the flat keys (`flat`, named after its
 * `output`). Throws Invalid (at `[i].key`) for an entry's `event` that is
 * not a subset of the config's, or a name given twice.
 */
export function resolveOutputs<I extends Items>(items: I, entries: OutputEntry[], event: EventConfig, flat: Values<I>): Array<OutputOf<I>> {
  const output = (o: Values<I>): string => String((o as Record<string, unknown>).output);
  if (entries.length === 0) return [{ ...flat, name: output(flat), event }];
  const seen = new Map<string, number>();
  const out = entries.map((entry, i) => {
    const values = Object.fromEntries(
      Object.entries(items).map(([key, item]) => [key, item.rule.value(key in entry ? coerced(item.rule, entry[key]) : item.default)]),
    ) as Values<I>;
    const kind = output(values);
    const nth = (seen.get(kind) ?? 0) + 1;
    seen.set(kind, nth);
    const own = entry.event as EventConfig | undefined;
    if (own !== undefined) {
      const wider = widerThan(own, event);
      if (wider) throw new Invalid(`must be a subset of event (the events subscribed): ${wider}; event is ${show(event)}`, `[${i}].event`, own);
    }
    const name = (entry.name as string | undefined) ?? (nth === 1 ? kind : `${kind}-${nth}`);
    return { ...values, name, event: own ?? event };
  });
  out.forEach((o, i) => {
    const first = out.findIndex((p) => p.name === o.name);
    if (first === i) return;
    if (entries[i].name === undefined) throw new Invalid(`must be given: the default, ${o.name}, is the name of outputs[${first}]`, `[${i}].name`, undefined);
    throw new Invalid(`must differ from the name of outputs[${first}]: each output's name is its own`, `[${i}].name`, o.name);
  });
  return out;
}

/** What `own` takes that `all` does not, in words, or undefined if it is a subset. */
function widerThan(own: EventConfig, all: EventConfig): string | undefined {
  for (const t of EVENT_TYPES) {
    const mine = own[t];
    if (mine === undefined) continue;
    const theirs = all[t];
    if (theirs === undefined) return `${t} is not subscribed`;
    const kept = Object.keys(theirs);
    if (kept.length === 0) continue;
    const protos = Object.keys(mine);
    if (protos.length === 0) return `${t} takes every protocol, where event keeps ${kept.join(', ')} only`;
    const extra = protos.filter((p) => !kept.includes(p));
    if (extra.length > 0) return `${t} takes ${extra.join(', ')}, which event does not keep`;
  }
  return undefined;
}
