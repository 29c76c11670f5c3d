/**
 * The documentation keeps up with the code: every generated table is what
 * scripts/config-doc.ts writes now (the key table, the IPFIX fields, the
 * metrics), the module map of docs/architecture.md names every source file
 * and no file that is gone, and the README stays short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/ctlogd.js';

test('every generated table of docs/ is what scripts/config-doc.ts writes', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/config-doc.ts'), '--check'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const metrics = readFileSync(path.join(ROOT, 'docs/metrics.md'), 'utf8');
  // The metrics table is there and holds a family of each kind.
  for (const row of ['| `ctlogd_events_received_total` | counter |', '| `ctlogd_events_output_waiting` | gauge |', '| `ctlogd_build_info` | info |']) {
    assert.ok(metrics.includes(row), row);
  }
  assert.match(metrics, /\| `ctlogd_event_latency_seconds` \| histogram \|/);
});

/** Files under `dir`, as paths relative to it. */
function files(dir: string): string[] {
  // Walked by hand: Node 18's entries have no parentPath.
  const walk = (at: string): string[] =>
    readdirSync(path.join(dir, at), { withFileTypes: true }).flatMap((e) => {
      const rel = path.join(at, e.name);
      return e.isDirectory() ? walk(rel) : e.isFile() ? [rel] : [];
    });
  return walk('').sort();
}

test("docs/architecture.md's module map names every source file, and only those", () => {
  const page = readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');
  const roots = ['crates/ctlog-core/src', 'crates/ctlog-napi/src', 'src'];
  // Each root's table follows the line that names it, up to the next root's.
  const starts = roots.map((r) => {
    const at = page.indexOf(`\n\`${r}/\``);
    assert.ok(at >= 0, `a paragraph starting with \`${r}/\``);
    return at;
  });
  for (const [i, root] of roots.entries()) {
    const table = page.slice(starts[i], starts[i + 1] ?? page.indexOf('\n## ', starts[i]));
    const named = new Set(
      table
        .split('\n')
        .filter((l) => l.startsWith('| `'))
        .flatMap((l) => [...l.split('|')[1].matchAll(/`([^`]+)`/g)].map((m) => m[1])),
    );
    const onDisk = files(path.join(ROOT, root));
    assert.deepEqual(
      onDisk.filter((f) => !named.has(f)),
      [],
      `files of ${root}/ that docs/architecture.md does not name`,
    );
    assert.deepEqual(
      [...named].filter((f) => !onDisk.includes(f)),
      [],
      `files docs/architecture.md names in ${root}/ that are not there`,
    );
  }
});

test('the README is short: at most 300 lines, the rest in docs/', () => {
  const lines = readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n').length - 1;
  assert.ok(lines <= 300, `README.md has ${lines} lines`);
});
