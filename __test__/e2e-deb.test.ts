/**
 * The Debian package as an admin meets it: scripts/deb.sh builds the same
 * bytes twice, lintian finds no error, apt installs it, /usr/bin/ctlogd
 * runs the packaged config on real events in a namespace, and `dpkg -r`
 * leaves only the conffile, which `dpkg -P` removes too.
 *
 * CTLOGD_PKG_DIR names a folder pack.sh already filled (the test command
 * packs once for this test and e2e-install's); without it this test packs
 * for itself. The Debian tools deb.sh and lintian need are installed with
 * apt when missing. Refuses to run where a ctlogd package is installed: it
 * would remove it.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { Lines, marker, ROOT } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
const ARCH = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
const CONFFILE = '/etc/ctlogd/ctlogd.json';
const UNIT = '/lib/systemd/system/ctlogd.service';
const DROP_IN = '/usr/share/ctlogd/vyos-conntrack-logger.conf';
/** command:Debian package, for what deb.sh and this test run. */
const TOOLS = ['lintian:lintian', 'help2man:help2man', 'dpkg-shlibdeps:dpkg-dev', 'strip:binutils'];

let work: string;
let deb: string;
let buildTimes: number[];
/** Set once this test may have installed the package: only then does after() purge it. */
let ours = false;

const sh = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', ...env }, timeout: 300_000 });

function ok(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = sh(cmd, args, env);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** dpkg's state of the package ("install ok installed", ...), or undefined when dpkg knows nothing of it. */
function status(): string | undefined {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${Field} syntax
  const r = sh('dpkg-query', ['-W', '-f=${Status}', 'ctlogd']);
  return r.status === 0 && r.stdout !== 'unknown ok not-installed' ? r.stdout : undefined;
}

/** Builds the .deb into a new folder of `work`; returns its path and how long deb.sh took. */
function build(pkgDir: string, name: string): { file: string; ms: number } {
  const out = path.join(work, name);
  const started = Date.now();
  const stdout = ok('bash', [path.join(ROOT, 'scripts/deb.sh'), out], { CTLOGD_PKG_DIR: pkgDir });
  return { file: stdout.trim().split('\n').at(-1)!, ms: Date.now() - started };
}

before(() => {
  checkPrerequisites();
  assert.equal(status(), undefined, 'a ctlogd package is installed here; this test would remove it (dpkg -P ctlogd first)');
  const missing = TOOLS.filter((t) => sh('sh', ['-c', `command -v ${t.split(':')[0]}`]).status !== 0).map((t) => t.split(':')[1]);
  if (missing.length) {
    if (sh('apt-get', ['install', '-y', '-qq', ...missing]).status !== 0) ok('apt-get', ['update', '-qq']);
    ok('apt-get', ['install', '-y', '-qq', ...missing]);
  }
  work = mkdtempSync(path.join(tmpdir(), 'ctlogd-deb-'));
  // apt reads a local .deb as its own unprivileged user.
  chmodSync(work, 0o755);
  const pkgDir = process.env.CTLOGD_PKG_DIR ?? path.join(work, 'pkg');
  if (!process.env.CTLOGD_PKG_DIR) execFileSync('bash', [path.join(ROOT, 'scripts/pack.sh'), pkgDir], { stdio: 'inherit' });
  const first = build(pkgDir, 'a');
  deb = first.file;
  const second = build(pkgDir, 'b');
  assert.equal(path.basename(deb), `ctlogd_${pkg.version}_${ARCH}.deb`);
  // Reproducible: the same tarballs and commit make the same bytes.
  assert.ok(readFileSync(deb).equals(readFileSync(second.file)), 'two builds differ');
  buildTimes = [first.ms, second.ms];
});

after(() => {
  if (ours && status() !== undefined) sh('dpkg', ['-P', 'ctlogd']);
  if (work) rmSync(work, { recursive: true, force: true });
});

test('lintian: no errors', (t: TestContext) => {
  t.diagnostic(`deb.sh took ${buildTimes.join(' ms, then ')} ms`);
  const r = sh('lintian', ['--display-info', deb]);
  const out = r.stdout + r.stderr;
  // Warnings and infos are shown, not failed on: why each stays is in the README.
  for (const line of out.trim().split('\n')) t.diagnostic(line);
  assert.doesNotMatch(out, /^E: /m);
  assert.equal(r.status, 0, out);
});

test('control: name, version, architecture, Depends on nodejs; the layout', () => {
  const field = (name: string) => ok('dpkg-deb', ['-f', deb, name]).trim();
  assert.equal(field('Package'), 'ctlogd');
  assert.equal(field('Version'), pkg.version);
  assert.equal(field('Architecture'), ARCH);
  assert.match(field('Depends'), /^nodejs \(>= 18(\.\d+)*\), libc6 \(>= [\d.]+\)/);
  const files = ok('dpkg-deb', ['-c', deb])
    .split('\n')
    .map((l) => l.split(/\s+/)[5]);
  for (const f of [
    './usr/bin/ctlogd',
    './usr/lib/ctlogd/bin/ctlogd',
    './usr/lib/ctlogd/bin/ctlogd.js',
    './usr/lib/ctlogd/dist/ctlogd.mjs',
    `./usr/lib/ctlogd/node_modules/ctlogd-linux-x64-gnu/ctlogd.linux-x64-gnu.node`,
    './usr/lib/ctlogd/node_modules/winston/package.json',
    `.${UNIT}`,
    `.${DROP_IN}`,
    `.${CONFFILE}`,
    './usr/share/man/man8/ctlogd.8.gz',
    './usr/share/doc/ctlogd/copyright',
    './usr/share/doc/ctlogd/changelog.gz',
    './usr/share/doc/ctlogd/README.md.gz',
    './usr/share/doc/ctlogd/docs/configuration.md.gz',
    './usr/share/doc/ctlogd/docs/outputs.md.gz',
  ]) {
    assert.ok(files.includes(f), f);
  }
  // Documentation, tests, licence files (their notices are in copyright) and
  // the npm-only copies of the systemd files stay out.
  const lib = files.filter((f) => f?.startsWith('./usr/lib/ctlogd/'));
  const stray = lib.filter((f) => /\/(readme|changelog|history|licen[cs]e)[^/]*$|\.md$|\.map$|^\.\/usr\/lib\/ctlogd\/systemd\//i.test(f));
  assert.deepEqual(stray, []);
});

test('apt installs it; /usr/bin/ctlogd runs on /usr/bin/node whatever node is first on PATH', () => {
  ours = true;
  ok('apt-get', ['install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=120', path.resolve(deb)]);
  assert.equal(status(), 'install ok installed');
  const fake = path.join(work, 'fake-node');
  execFileSync('mkdir', ['-p', fake]);
  writeFileSync(path.join(fake, 'node'), '#!/bin/sh\necho "not this node" >&2\nexit 1\n', { mode: 0o755 });
  const v = sh('/usr/bin/ctlogd', ['--version'], { PATH: `${fake}:${process.env.PATH}` });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stdout, `ctlogd ${pkg.version}\n`);
  const man = ok('man', ['-P', 'cat', '8', 'ctlogd'], { MANWIDTH: '80' });
  assert.match(man, /--config FILE/);
  for (const section of ['OPTIONS', 'ENVIRONMENT', 'FILES', 'EXAMPLES', 'EXIT STATUS', 'SEE ALSO']) assert.match(man, new RegExp(`^${section}$`, 'm'), section);
});

test('the installed command and conffile log a real event in a namespace', async (t) => {
  // The conffile is the embedded default, key for key.
  assert.deepEqual(loadConfig({ path: CONFFILE, env: {} }), loadConfig({ env: {} }));
  const ns = new Netns('deb');
  t.after(() => ns.destroy());
  const out = new Lines(ns.spawn('/usr/bin/ctlogd', ['--config', CONFFILE, '--log-level', 'debug']));
  await out.until(() => out.stderr.includes('listening'), 'ctlogd to listen');
  // Through the launcher: /usr/bin/node, its inspector kept shut (docs/security.md),
  // one V8 helper thread, a 1 MiB young generation half and two malloc arenas (docs/benchmarks.md).
  const argv = readFileSync(`/proc/${out.child.pid}/cmdline`, 'utf8').split('\0');
  assert.deepEqual(argv.slice(1, 5), ['--inspect-port=[fe80::1]:9229', '--v8-pool-size=1', '--max-semi-space-size=1', '/usr/lib/ctlogd/bin/ctlogd.js']);
  const environ = readFileSync(`/proc/${out.child.pid}/environ`, 'utf8').split('\0');
  assert.ok(environ.includes('MALLOC_ARENA_MAX=2'), environ.join(' '));
  assert.equal(readlinkSync(`/proc/${out.child.pid}/exe`), realpathSync('/usr/bin/node'));
  const m = marker(60);
  m.insert(ns);
  await out.until(() => out.lines.some(m.match), 'the NEW line');
  out.child.kill('SIGTERM');
  assert.equal(await out.exited, 0, out.stderr);
  assert.match(out.lines.find(m.match)!, /^\[NEW\]\s+\d+ udp\s+17 30 src=198\.51\.100\.60 dst=203\.0\.113\.1 sport=9 dport=9 \[UNREPLIED\] /);
});

test('dpkg: the unit where Debian 12 puts it, not enabled; the drop-in; the conffile', () => {
  const files = ok('dpkg', ['-L', 'ctlogd']).trim().split('\n');
  for (const f of [UNIT, DROP_IN, CONFFILE, '/usr/bin/ctlogd']) assert.ok(files.includes(f), f);
  assert.match(readFileSync(UNIT, 'utf8'), /^ExecStart=\/usr\/bin\/ctlogd --config \/etc\/ctlogd\/ctlogd\.json$/m);
  assert.ok(!existsSync('/etc/systemd/system/multi-user.target.wants/ctlogd.service'), 'installing does not enable the service');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${Field} syntax
  const conffiles = ok('dpkg-query', ['-W', '-f=${Conffiles}', 'ctlogd']);
  assert.match(conffiles, new RegExp(`^ ${CONFFILE} [0-9a-f]{32}$`, 'm'));
});

test('dpkg -r leaves only the conffile; dpkg -P removes it', () => {
  const files = ok('dpkg', ['-L', 'ctlogd'])
    .trim()
    .split('\n')
    .filter((f) => f !== '/.');
  ok('dpkg', ['-r', 'ctlogd']);
  assert.equal(status(), 'deinstall ok config-files');
  // Still there: the conffile, its folders, and folders other packages own
  // (/usr/bin, ...; /lib is a link to one on a merged /usr).
  const owned = (dir: string) =>
    sh('dpkg-query', ['-S', dir])
      .stdout.split('\n')
      .some((l) => l && !l.startsWith('ctlogd:'));
  const left = files.filter((f) => existsSync(f) || isLink(f));
  const expected = left.filter((f) => f === CONFFILE || CONFFILE.startsWith(`${f}/`) || (statSync(f).isDirectory() && owned(f)));
  assert.deepEqual(left, expected);
  assert.ok(existsSync(CONFFILE));
  assert.ok(!existsSync('/usr/lib/ctlogd') && !existsSync('/usr/bin/ctlogd') && !existsSync(UNIT));
  ok('dpkg', ['-P', 'ctlogd']);
  assert.equal(status(), undefined);
  assert.ok(!existsSync('/etc/ctlogd'), 'purge removes /etc/ctlogd');
});

function isLink(f: string): boolean {
  try {
    return lstatSync(f).isSymbolicLink();
  } catch {
    return false;
  }
}
