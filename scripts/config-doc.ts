/**
 * The README's generated tables: the configuration keys, from the convict
 * schema (the one source of defaults, variables, flags and allowed
 * values), and the IPFIX record's fields, from the IPFIX template table.
 *
 *   npx tsx scripts/config-doc.ts           print the key table
 *   npx tsx scripts/config-doc.ts --write   rewrite both in README.md, between
 *                                           <!-- config-keys:start --> and
 *                                           <!-- config-keys:end -->, and
 *                                           <!-- ipfix-fields:start --> and
 *                                           <!-- ipfix-fields:end -->
 *   npx tsx scripts/config-doc.ts --check   exit 1 if README.md is out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configKeys, type ConfigKey } from '../src/config.js';
import { FIELDS } from '../src/output/ipfix/template.js';

const README = new URL('../README.md', import.meta.url);

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

/** `readme` with the text between the markers `<!-- NAME:start -->` and `<!-- NAME:end -->` replaced by `text`. */
function between(readme: string, name: string, text: string): string {
  const START = `<!-- ${name}:start -->`;
  const END = `<!-- ${name}:end -->`;
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md: no ${START} ... ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n\n${text}\n${readme.slice(end)}`;
}

const withTable = (readme: string): string => between(between(readme, 'config-keys', table()), 'ipfix-fields', ipfixTable());

const mode = process.argv[2];
if (mode === '--write' || mode === '--check') {
  const readme = readFileSync(README, 'utf8');
  const next = withTable(readme);
  if (mode === '--write') {
    if (next !== readme) writeFileSync(README, next);
  } else if (next !== readme) {
    process.stderr.write('README.md: a generated table (configuration keys, IPFIX fields) is out of date; run npx tsx scripts/config-doc.ts --write\n');
    process.exit(1);
  }
} else if (mode === undefined) {
  process.stdout.write(table());
} else {
  process.stderr.write('usage: config-doc.ts [--write | --check]\n');
  process.exit(64);
}
