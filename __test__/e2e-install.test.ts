/**
 * The packages as users install them: the two tarballs of scripts/pack.sh
 * installed by npm into an empty project, with no cargo or rustc on PATH;
 * then the command and the library on each Node.js version of
 * scripts/nodes.sh, capturing real events in a namespace. And the root
 * package alone, without its addon: what still works, and the one line
 * that says what is missing.
 *
 * CTLOGD_PKG_DIR names a folder pack.sh already filled (the test command
 * packs once for this test and the Debian package's); without it this
 * test packs for itself.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lines, marker, ROOT } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
const PLATFORM = 'linux-x64-gnu';
const ADDON_PKG = `ctlogd-${PLATFORM}`;

/** "VERSION PATH" lines of scripts/nodes.sh: every binary is there once this returns. */
const NODES = execFileSync('bash', [path.join(ROOT, 'scripts/nodes.sh')], { encoding: 'utf8' })
  .trim()
  .split('\n')
  .map((l) => {
    const [version, bin] = l.split(' ');
    return { version, bin };
  });

/** PATH as it is, less every folder that holds cargo or rustc: the user's machine has no toolchain. */
const NO_RUST_PATH = (process.env.PATH ?? '')
  .split(':')
  .filter((d) => d && !existsSync(path.join(d, 'cargo')) && !existsSync(path.join(d, 'rustc')))
  .join(':');

let work: string;
let pkgDir: string;
let rootTgz: string; // the root package's tarball
let addonTgz: string; // this platform's
let full: string; // a project with both tarballs installed
let bare: string; // a project with the root package only

function run(cmd: string, args: string[], opts: { cwd: string; path?: string; env?: NodeJS.ProcessEnv }): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, PATH: opts.path ?? NO_RUST_PATH };
  // A toolchain found through these would defeat the point.
  delete env.CARGO;
  delete env.RUSTC;
  return spawnSync(cmd, args, { cwd: opts.cwd, env, encoding: 'utf8', timeout: 120_000 });
}

/** An empty project as `npm init -y` makes it (CommonJS), with `tarballs` installed by npm. */
function project(name: string, tarballs: string[]): string {
  const dir = path.join(work, name);
  execFileSync('mkdir', ['-p', dir]);
  for (const args of [
    ['init', '-y'],
    ['install', '--no-audit', '--no-fund', '--no-update-notifier', ...tarballs],
  ]) {
    const r = run('npm', args, { cwd: dir });
    assert.equal(r.status, 0, `npm ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
  return dir;
}

before(() => {
  checkPrerequisites();
  assert.notEqual(run('sh', ['-c', 'command -v cargo || command -v rustc'], { cwd: ROOT }).status, 0, 'cargo is still on the PATH the install uses');
  work = mkdtempSync(path.join(tmpdir(), 'ctlogd-install-'));
  pkgDir = process.env.CTLOGD_PKG_DIR ?? path.join(work, 'pkg');
  if (!process.env.CTLOGD_PKG_DIR) execFileSync('bash', [path.join(ROOT, 'scripts/pack.sh'), pkgDir], { stdio: 'inherit' });
  rootTgz = path.join(pkgDir, `ctlogd-${pkg.version}.tgz`);
  addonTgz = path.join(pkgDir, `${ADDON_PKG}-${pkg.version}.tgz`);
  full = project('full', [rootTgz, addonTgz]);
  bare = project('bare', [rootTgz]);
});

after(() => rmSync(work, { recursive: true, force: true }));

test('pack.sh: the root package carries no addon and no build step; both carry LICENSE', () => {
  const mod = path.join(full, 'node_modules');
  const manifest = JSON.parse(readFileSync(path.join(mod, 'ctlogd/package.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(manifest.scripts, undefined, 'no prepare/build script is published');
  assert.equal(manifest.devDependencies, undefined);
  const optional = ['ctlogd-linux-x64-gnu', 'ctlogd-linux-arm64-gnu', 'ctlogd-linux-x64-musl', 'ctlogd-linux-arm64-musl'];
  assert.deepEqual(manifest.optionalDependencies, Object.fromEntries(optional.map((name) => [name, pkg.version])));
  // Its dependencies travel in it: installing the tarballs needs no registry.
  assert.deepEqual(manifest.bundleDependencies, Object.keys(pkg.dependencies));
  for (const f of [
    'LICENSE',
    'README.md',
    'systemd/ctlogd.service',
    'systemd/vyos-conntrack-logger.conf',
    'schema/event.schema.json',
    'schema/ecs.schema.json',
    'dist/ctlogd.mjs',
    'dist/index.d.ts',
  ]) {
    assert.ok(existsSync(path.join(mod, 'ctlogd', f)), `ctlogd/${f}`);
  }
  // V8 keeps the bundle's text while ctlogd runs: ASCII is one byte a
  // character, one other character anywhere would make it two (src/main.ts).
  const bundle = readFileSync(path.join(mod, 'ctlogd/dist/ctlogd.mjs'));
  assert.equal(
    bundle.findIndex((b) => b > 0x7f),
    -1,
    'dist/ctlogd.mjs is ASCII',
  );
  const lines = bundle.toString('latin1').split('\n').length;
  assert.ok(lines < 1000, `dist/ctlogd.mjs is left without its whitespace and comments (${lines} lines, about 18,000 with them)`);
  assert.ok(!existsSync(path.join(mod, 'ctlogd', `ctlogd.${PLATFORM}.node`)), 'the addon is in its own package');
  for (const f of ['LICENSE', `ctlogd.${PLATFORM}.node`]) assert.ok(existsSync(path.join(mod, ADDON_PKG, f)), `${ADDON_PKG}/${f}`);
  // The addon loads on glibc 2.17 and later (README, Installing).
  const needs = execFileSync('objdump', ['-T', path.join(mod, ADDON_PKG, `ctlogd.${PLATFORM}.node`)], { encoding: 'utf8' });
  const versions = [...needs.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => Number(m[1]) * 1000 + Number(m[2]));
  assert.ok(versions.length > 0);
  assert.ok(Math.max(...versions) <= 2017, `needs glibc ${Math.floor(Math.max(...versions) / 1000)}.${Math.max(...versions) % 1000}`);
});

test('docs/install.md: both tarballs in one `npm i -g --offline`, no registry reachable, an empty cache: npm asks for nothing, the command and the addon work', async (t) => {
  const prefix = path.join(work, 'global');
  const r = run('npm', ['i', '-g', '--offline', '--prefix', prefix, '--loglevel=http', '--no-audit', '--no-fund', '--no-update-notifier', rootTgz, addonTgz], {
    cwd: work,
    env: { npm_config_registry: 'http://127.0.0.1:9/', npm_config_cache: path.join(work, 'empty-cache') },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // npm logs each request as `npm http fetch GET ...`: there is none, not even for the other platforms' packages.
  assert.doesNotMatch(r.stderr, /http fetch/);
  assert.ok(existsSync(path.join(prefix, 'lib/node_modules', ADDON_PKG, `ctlogd.${PLATFORM}.node`)));
  for (const other of ['ctlogd-linux-arm64-gnu', 'ctlogd-linux-x64-musl', 'ctlogd-linux-arm64-musl']) {
    assert.ok(!existsSync(path.join(prefix, 'lib/node_modules', other)), other);
  }
  const bin = path.join(prefix, 'bin/ctlogd');
  const v = run(bin, ['--version'], { cwd: work });
  assert.equal(v.stdout, `ctlogd ${pkg.version}\n`, v.stderr);
  // The addon is found beside the package, and events are captured.
  const ns = new Netns('install-global');
  t.after(() => ns.destroy());
  const out = new Lines(ns.spawn(bin, ['--log-level', 'debug'], {}));
  await out.until(() => out.stderr.includes('listening'), 'ctlogd to listen');
  const m = marker(39);
  m.insert(ns);
  await out.until(() => out.lines.some(m.match), 'the NEW line');
  out.child.kill('SIGTERM');
  assert.equal(await out.exited, 0, out.stderr);
});

/** Library use from an ES module: capture in the namespace, then print what was seen. */
const PROGRAM = `
import { Capture, IPS, formatVyos } from 'ctlogd';
const seen = [];
const cap = await Capture.start({ events: ['new'], protocols: { new: ['udp'] } }, (events) => {
  for (const e of events) seen.push(formatVyos(e));
});
console.error('listening');
process.once('SIGTERM', async () => {
  await cap.stop();
  console.log(JSON.stringify({ node: process.version, seen, assured: IPS.ASSURED }));
});
`;

for (const node of NODES) {
  const PATH = `${path.dirname(node.bin)}:${NO_RUST_PATH}`;
  const major = Number(node.version.split('.')[0]);
  const minor = Number(node.version.split('.')[1]);

  test(`Node ${node.version}: ctlogd --version and --help from the installed package`, () => {
    const v = run(path.join(full, 'node_modules/.bin/ctlogd'), ['--version'], { cwd: full, path: PATH });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout, `ctlogd ${pkg.version}\n`);
    const h = run(path.join(full, 'node_modules/.bin/ctlogd'), ['--help'], { cwd: full, path: PATH });
    assert.equal(h.status, 0, h.stderr);
    assert.match(h.stdout, /^Usage: ctlogd /);
    const which = run('node', ['-p', 'process.version'], { cwd: full, path: PATH });
    assert.equal(which.stdout.trim(), `v${node.version}`, 'the command runs on this Node');
  });

  test(`Node ${node.version}: the installed ctlogd prints real events in a namespace`, async (t) => {
    const ns = new Netns('install');
    t.after(() => ns.destroy());
    const out = new Lines(ns.spawn(path.join(full, 'node_modules/.bin/ctlogd'), ['--log-level', 'debug'], { PATH }));
    await out.until(() => out.stderr.includes('listening'), 'ctlogd to listen');
    const m = marker(40 + NODES.indexOf(node));
    m.insert(ns);
    await out.until(() => out.lines.some(m.match), 'the NEW line');
    out.child.kill('SIGTERM');
    assert.equal(await out.exited, 0, out.stderr);
    const line = out.lines.find(m.match)!;
    assert.match(line, /^\[NEW\]\s+\d+ udp\s+17 30 src=198\.51\.100\.\d+ dst=203\.0\.113\.1 sport=9 dport=9 \[UNREPLIED\] /);
  });

  test(`Node ${node.version}: the library from an ES module captures in a namespace`, async (t) => {
    const ns = new Netns('install-lib');
    t.after(() => ns.destroy());
    const file = path.join(full, `program-${node.version}.mjs`);
    writeFileSync(file, PROGRAM);
    const out = new Lines(ns.spawn(node.bin, [file], { PATH }));
    await out.until(() => out.stderr.includes('listening'), 'the program to listen');
    ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '192.0.2.7', '-d', '192.0.2.8', '--sport', '7', '--dport', '53', '-t', '30']);
    ns.exec('conntrack', ['-I', '-p', 'tcp', '-s', '192.0.2.7', '-d', '192.0.2.8', '--sport', '7', '--dport', '80', '-t', '30', '--state', 'SYN_SENT']);
    ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '192.0.2.9', '-d', '192.0.2.8', '--sport', '9', '--dport', '53', '-t', '30']);
    // The second udp entry comes after the tcp one: once it is seen, the tcp one was filtered.
    await sleep(100);
    out.child.kill('SIGTERM');
    assert.equal(await out.exited, 0, out.stderr);
    const r = JSON.parse(out.lines[0]) as { node: string; seen: string[]; assured: number };
    assert.equal(r.node, `v${node.version}`);
    assert.equal(r.assured, 4);
    assert.equal(r.seen.length, 2, r.seen.join('\n'));
    assert.match(r.seen[0], /^\[NEW\]\s+\d+ udp\s+17 30 src=192\.0\.2\.7 dst=192\.0\.2\.8 sport=7 dport=53 /);
    assert.match(r.seen[1], /src=192\.0\.2\.9 /);
  });

  test(`Node ${node.version}: CommonJS uses import(); require() works from Node 20.19 and 22.12`, () => {
    const dyn = run(node.bin, ['-e', "import('ctlogd').then((m) => console.log(typeof m.Capture.start))"], { cwd: full, path: PATH });
    assert.equal(dyn.stdout, 'function\n', dyn.stderr);
    const req = run(node.bin, ['-e', "console.log(typeof require('ctlogd').Capture.start)"], { cwd: full, path: PATH });
    const requireEsm = (major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major >= 23;
    if (requireEsm) assert.equal(req.stdout, 'function\n', req.stderr);
    else assert.match(req.stderr, /ERR_REQUIRE_ESM/);
  });

  test(`Node ${node.version}: without the addon, --help and --version work and the rest says what is missing`, () => {
    const bin = path.join(bare, 'node_modules/.bin/ctlogd');
    const v = run(bin, ['--version'], { cwd: bare, path: PATH });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout, `ctlogd ${pkg.version}\n`);
    const h = run(bin, ['--help'], { cwd: bare, path: PATH });
    assert.equal(h.status, 0, h.stderr);
    assert.match(h.stdout, /69 no native addon/);
    const r = run(bin, [], { cwd: bare, path: PATH });
    assert.equal(r.status, 69, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^ctlogd: no native addon for this platform: the package ${ADDON_PKG} is not installed .*npm ci\` \\(needs Rust\\)`));
    // A bad config is still reported as such, before the addon is looked for.
    const c = run(bin, ['--format', 'xml'], { cwd: bare, path: PATH });
    assert.equal(c.status, 78, c.stderr);
    // The library imports; starting a capture rejects with the same line.
    const lib = run(
      node.bin,
      ['--input-type=module', '-e', "import { Capture } from 'ctlogd'; Capture.start({}, () => {}).catch((e) => console.log(e.name, e.code, e.message))"],
      { cwd: bare, path: PATH },
    );
    assert.match(lib.stdout, new RegExp(`^AddonError ENOADDON no native addon for this platform: the package ${ADDON_PKG} is not installed`), lib.stderr);
  });
}

test('the exported types cover what the options need (tsc on a consumer)', () => {
  const file = path.join(full, 'check.mts');
  writeFileSync(
    file,
    `import { Capture, AddonError, type CaptureOptions, type Protocols, type ProtocolClass, type ConntrackEvent, type EventType } from 'ctlogd';
const classes: ProtocolClass[] = ['tcp', 'udp'];
const types: EventType[] = ['new', 'destroy'];
const protocols: Protocols = { new: classes };
const options: CaptureOptions = { events: types, protocols, rcvbuf: 1 << 20, queueSize: 1024, reliable: false };
export const started: Promise<Capture> = Capture.start(options, (events: ConntrackEvent[]) => { void events; });
export const isAddonError = (e: unknown): boolean => e instanceof AddonError && e.code === 'ENOADDON';
`,
  );
  const r = spawnSync(
    path.join(ROOT, 'node_modules/.bin/tsc'),
    [
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      path.join(ROOT, 'node_modules/@types'),
      file,
    ],
    { cwd: full, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("scripts/smoke.sh, the build workflow's check on each target's system, passes here", () => {
  const r = run('bash', [path.join(ROOT, 'scripts/smoke.sh'), pkgDir, PLATFORM], { cwd: work });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`^smoke: ctlogd ${pkg.version.replace(/\./g, '\\.')}, ${ADDON_PKG} loads on node v`, 'm'));
});
