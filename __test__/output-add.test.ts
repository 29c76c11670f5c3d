/**
 * Adding an output is its folder and one line in the registry
 * (docs/architecture.md, "How to add an output"): in a copy of src/, a
 * minimal output is written in src/output/null/ and registered, and with
 * nothing else changed it is in --help, in the generated key table, and
 * in the config's validation, flat and in `outputs`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/ctlogd.js';

// Inside the checkout, so that the copy finds node_modules as src/ does.
const COPY = mkdtempSync(path.join(ROOT, '.output-add-'));
after(() => rmSync(COPY, { recursive: true, force: true }));

const NULL_OUTPUT = `/** Takes every line and throws it away, counted written. */
import { integer, option } from '../../config/rules.js';
import { EVENT_TYPES } from '../../event.js';
import { defineOutput } from '../definition.js';
import { count } from '../ledger.js';

export const nullOutput = defineOutput({
  name: 'null',
  doc: 'lines counted and thrown away',
  keys: option('null_delay', 'With output \`null\`: milliseconds it would wait, if it waited.', 0, integer(0, 10)),
  types: EVENT_TYPES,
  check: (c) => (c.output === 'null' && c.null_delay === 7 ? 'null_delay: must not be 7 when output is "null": value was 7' : undefined),
  open: (_c, _report, ledger) => ({
    write(lines, done) {
      count(ledger.written, lines.kinds);
      done();
    },
    reopen: () => undefined,
    close: async () => {},
  }),
});
`;

function addOutput(): void {
  cpSync(path.join(ROOT, 'src'), path.join(COPY, 'src'), { recursive: true });
  cpSync(path.join(ROOT, 'scripts'), path.join(COPY, 'scripts'), { recursive: true });
  symlinkSync(path.join(ROOT, 'index.js'), path.join(COPY, 'index.js'));
  writeFileSync(path.join(COPY, 'package.json'), readFileSync(path.join(ROOT, 'package.json')));
  mkdirSync(path.join(COPY, 'src/output/null'));
  writeFileSync(path.join(COPY, 'src/output/null/index.ts'), NULL_OUTPUT);
  // The one line in the registry (and its import).
  const registry = path.join(COPY, 'src/output/registry.ts');
  const text = readFileSync(registry, 'utf8');
  const listed = text.replace(/export const OUTPUT_DEFINITIONS = \[([^\]]*)\]/, 'export const OUTPUT_DEFINITIONS = [$1, nullOutput]');
  assert.notEqual(listed, text, 'the registry lists its outputs in OUTPUT_DEFINITIONS');
  writeFileSync(registry, `import { nullOutput } from './null/index.js';\n${listed}`);
}

/** Runs a module of the copy with tsx. */
function run(file: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(COPY, file), ...args], { cwd: COPY, encoding: 'utf8' });
}

test('a minimal output, its folder and one registry line: in --help, in the key table, validated flat and in outputs', () => {
  addOutput();
  const help = run('src/main.ts', ['--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--null-delay VALUE\n\s+With output `?null`?: milliseconds it would wait/);

  const table = run('scripts/config-doc.ts', []);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^\| `null_delay` \| `0` \| `CTLOGD_NULL_DELAY`, `--null-delay` \| With output `null`: .* Allowed: an integer from 0 to 10 /m);

  // Validation: its key's rule, its check across keys, in either shape of config.
  const load = (conf: object, flags: string[] = []) => {
    const f = path.join(COPY, `c${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(f, JSON.stringify(conf));
    return run('src/main.ts', ['-c', f, ...flags]);
  };
  const event = { new: {} };
  const badValue = load({ event, output: 'null', null_delay: 11 });
  assert.equal(badValue.status, 78);
  assert.match(badValue.stderr, /: null_delay: must be an integer from 0 to 10 .*: value was 11\n$/);
  const badFlag = load({ event }, ['--output', 'null', '--null-delay', '7']);
  assert.equal(badFlag.status, 78);
  assert.match(badFlag.stderr, /: null_delay: must not be 7 when output is "null": value was 7\n$/);
  const inList = load({ event, outputs: [{ output: 'stdout' }, { output: 'null', null_delay: 7 }] });
  assert.equal(inList.status, 78);
  assert.match(inList.stderr, /: outputs\[1\]\.null_delay: must not be 7 when output is "null"/);
});
