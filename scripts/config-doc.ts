/**
 * The documentation's generated tables, each between markers in its page:
 * the configuration keys, from the convict schema (the one source of
 * defaults, variables, flags and allowed values), in docs/configuration.md;
 * the IPFIX record's fields, from the IPFIX template table, in
 * docs/nat-logging.md; the metrics, from what daemonFamilies makes of a
 * daemon's counters before any event (names, types, help and the labels
 * its series carry then), in docs/metrics.md.
 *
 *   npx tsx scripts/config-doc.ts           print the key table
 *   npx tsx scripts/config-doc.ts --write   rewrite every table in its page,
 *                                           between <!-- NAME:start --> and
 *                                           <!-- NAME:end -->
 *   npx tsx scripts/config-doc.ts --check   exit 1 if a page is out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configKeys, loadConfig, type ConfigKey } from '../src/config.js';
import { Daemon } from '../src/daemon.js';
import { render } from '../src/metrics/exposition.js';
import { daemonFamilies } from '../src/metrics/families.js';
import { FIELDS } from '../src/output/ipfix/template.js';

/** A table cell: a `|` would end it, a newline the row. */
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string): string => `\`${s}\``;

function defaultCell(k: ConfigKey): string {
  const json = JSON.stringify(k.default);
  if (k.required) return `required in a file; without \`-c\`: ${code(json)}`;
  if (k.default === null) return 'absent';
  if (k.default === '') return 'empty';
  return code(typeof k.default === 'string' ? k.default : json);
}

function table(): string {
  const rows = configKeys().map((k) => {
    const where =
      [k.env, k.arg && `--${k.arg}`]
        .filter(Boolean)
        .map((s) => code(s as string))
        .join(', ') || '—';
    return `| ${code(k.key)} | ${defaultCell(k)} | ${where} | ${cell(k.doc)} Allowed: ${cell(k.allowed)}. |`;
  });
  return ['| key | default | env / flag | meaning |', '|---|---|---|---|', ...rows].join('\n') + '\n';
}

/** The fields of ctlogd's IPFIX records, in wire order. */
function ipfixTable(): string {
  const rows = FIELDS.map((f) => `| ${f.ie} | ${code(f.name)} | ${f.length} | ${cell(f.doc)} |`);
  return ['| IE | name | bytes | holds |', '|--:|---|--:|---|', ...rows].join('\n') + '\n';
}

/** One family as a page shows it: `# HELP`, `# TYPE`, and the label names of its series. */
interface Shown {
  name: string;
  type: string;
  help: string;
  labels: Set<string>;
}

/**
 * The families of an exposition, read back from its text: whatever the
 * families are made of, the table shows what a scrape gets.
 */
function families(page: string): Shown[] {
  const out: Shown[] = [];
  for (const line of page.split('\n')) {
    const head = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (head) {
      if (out.at(-1)?.name !== head[2]) out.push({ name: head[2], type: '', help: '', labels: new Set() });
      const f = out.at(-1)!;
      if (head[1] === 'TYPE') f.type = head[3];
      else f.help = head[3].replace(/\\n/g, ' ').replace(/\\\\/g, '\\');
      continue;
    }
    const labels = /^[^#{\s]+\{(.*)\} \S+$/.exec(line);
    if (labels && out.length > 0) {
      for (const m of labels[1].matchAll(/(\w+)="(?:[^"\\]|\\.)*"/g)) if (m[1] !== 'le') out.at(-1)!.labels.add(m[1]);
    }
  }
  return out;
}

/**
 * The metrics a ctlogd on its embedded default config serves before any
 * event: its daemon's counters, made as the running one makes them, not
 * started (no socket, no root). The names as the Prometheus text format
 * writes them (`_total` on a counter), the types as OpenMetrics says them
 * (`info` is a gauge in the text format).
 */
function metricsTable(): string {
  const daemon = new Daemon({ env: {} }, loadConfig({ env: {} }));
  const made = daemonFamilies(daemon.counters(), { version: 'VERSION', node: 'NODE', platform: 'PLATFORM' });
  const text = families(render(made, false));
  const open = families(render(made, true));
  const rows = text.map((f, i) => {
    const labels = [...f.labels].map(code).join(', ') || '–';
    return `| ${code(f.name)} | ${open[i]?.type ?? f.type} | ${labels} | ${cell(f.help)} |`;
  });
  return ['| metric | type | labels | what |', '|---|---|---|---|', ...rows].join('\n') + '\n';
}

/** `page` with the text between the markers `<!-- NAME:start -->` and `<!-- NAME:end -->` replaced by `text`. */
function between(file: string, page: string, name: string, text: string): string {
  const START = `<!-- ${name}:start -->`;
  const END = `<!-- ${name}:end -->`;
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${file}: no ${START} ... ${END} markers`);
  return `${page.slice(0, start + START.length)}\n\n${text}\n${page.slice(end)}`;
}

/** Each generated table: the page it is in, its markers' name, how it is made. */
const TABLES = [
  { file: 'docs/configuration.md', name: 'config-keys', make: table },
  { file: 'docs/nat-logging.md', name: 'ipfix-fields', make: ipfixTable },
  { file: 'docs/metrics.md', name: 'metrics', make: metricsTable },
];

const mode = process.argv[2];
if (mode === '--write' || mode === '--check') {
  const stale: string[] = [];
  for (const { file, name, make } of TABLES) {
    const url = new URL(`../${file}`, import.meta.url);
    const page = readFileSync(url, 'utf8');
    const next = between(file, page, name, make());
    if (next === page) continue;
    if (mode === '--write') writeFileSync(url, next);
    else stale.push(`${file} (${name})`);
  }
  if (stale.length > 0) {
    process.stderr.write(`a generated table is out of date: ${stale.join(', ')}; run npx tsx scripts/config-doc.ts --write\n`);
    process.exit(1);
  }
} else if (mode === undefined) {
  process.stdout.write(table());
} else {
  process.stderr.write('usage: config-doc.ts [--write | --check]\n');
  process.exit(64);
}
