/**
 * The package manifests agree with each other: package.json's napi.targets
 * is the list of platforms; the packed root's optionalDependencies
 * (scripts/platforms.mjs), the npm/* platform packages, the build
 * workflow's matrix and engines follow it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/ctlogd.js';
// @ts-expect-error: a plain .mjs script, no types
import { optionalDependencies, platformOf } from '../scripts/platforms.mjs';

interface Manifest {
  name: string;
  version: string;
  main?: string;
  files?: string[];
  os?: string[];
  cpu?: string[];
  libc?: string[];
  engines?: { node: string };
  napi?: { targets: string[] };
  optionalDependencies?: Record<string, string>;
}

const read = (file: string) => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as Manifest;
const root = read('package.json');

/** napi-rs's platform name of a Rust target triple, with npm's cpu and libc words. */
function platform(triple: string): { name: string; cpu: string; libc: string } {
  const name = platformOf(triple);
  const [, cpu, abi] = name.split('-');
  return { name, cpu, libc: abi === 'gnu' ? 'glibc' : abi };
}

const platforms = root.napi!.targets.map(platform);

test('the packed root package lists every platform package as optional, at its own version', () => {
  assert.deepEqual(optionalDependencies(root), Object.fromEntries(platforms.map((p) => [`ctlogd-${p.name}`, root.version])));
  // Not in the clone's manifest: its npm ci would look for unpublished packages.
  assert.equal(root.optionalDependencies, undefined);
});

test('each platform package matches its target and the root version and engines', () => {
  assert.deepEqual(readdirSync(path.join(ROOT, 'npm')).sort(), platforms.map((p) => p.name).sort());
  for (const p of platforms) {
    const m = read(`npm/${p.name}/package.json`);
    const node = `ctlogd.${p.name}.node`;
    assert.equal(m.name, `ctlogd-${p.name}`);
    assert.equal(m.version, root.version, m.name);
    assert.deepEqual(m.engines, root.engines, m.name);
    assert.equal(m.main, node);
    assert.deepEqual(m.files, [node]);
    assert.deepEqual([m.os, m.cpu, m.libc], [['linux'], [p.cpu], [p.libc]], m.name);
  }
});

test('engines names the oldest Node the packages are tested on (scripts/nodes.sh)', () => {
  const first = /versions=\((\S+)/.exec(readFileSync(path.join(ROOT, 'scripts/nodes.sh'), 'utf8'))![1];
  const [major, minor] = first.split('.');
  assert.equal(root.engines!.node, `>=${major}.${minor}`);
});

test('the build workflow builds every target package.json lists', () => {
  const wf = readFileSync(path.join(ROOT, '.github/workflows/build.yml'), 'utf8');
  const matrix = [...wf.matchAll(/^\s+- target: (\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(matrix.sort(), [...root.napi!.targets].sort());
  // It packs with the same script as here.
  assert.match(wf, /scripts\/pack\.sh/);
});

test('the generated loader and the build agree on the platform file names', () => {
  const loader = readFileSync(path.join(ROOT, 'index.js'), 'utf8');
  for (const p of platforms) assert.ok(loader.includes(`require('ctlogd-${p.name}')`), p.name);
  // bash -n: the packaging scripts at least parse.
  for (const s of ['pack.sh', 'nodes.sh', 'zig.sh']) execFileSync('bash', ['-n', path.join(ROOT, 'scripts', s)]);
});
