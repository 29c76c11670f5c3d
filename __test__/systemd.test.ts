/**
 * The shipped systemd unit: systemd's own tools check it offline (no
 * systemd runs here as PID 1, so the unit is verified and scored, not
 * started; the daemon's behaviour under it is what the other tests run).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CTLOGD, ROOT } from './helpers/ctlogd.js';

const UNIT = path.join(ROOT, 'systemd/ctlogd.service');

/** This file's units, removed when its tests are done. */
const DIR = mkdtempSync(path.join(tmpdir(), 'ctlogd-systemd-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

/** The unit with ExecStart pointing at this checkout's ctlogd (verify checks it is executable). */
function localUnit(): string {
  const file = path.join(mkdtempSync(path.join(DIR, 'unit-')), 'ctlogd.service');
  writeFileSync(file, readFileSync(UNIT, 'utf8').replace('/usr/bin/ctlogd', CTLOGD));
  return file;
}

test('systemd-analyze verify accepts the unit', () => {
  const r = spawnSync('systemd-analyze', ['verify', localUnit()], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '');
});

test('least privilege: only CAP_NET_ADMIN, exposure scored 1.6 or better', () => {
  const unit = readFileSync(UNIT, 'utf8');
  assert.match(unit, /^CapabilityBoundingSet=CAP_NET_ADMIN$/m);
  assert.match(unit, /^AmbientCapabilities=CAP_NET_ADMIN$/m);
  assert.match(unit, /^NoNewPrivileges=yes$/m);
  assert.match(unit, /^ProtectSystem=strict$/m);
  assert.match(unit, /^Restart=on-failure$/m);
  assert.match(unit, /^PrivateMounts=yes$/m);
  assert.match(unit, /^ProtectProc=invisible$/m);
  assert.match(unit, /^SystemCallFilter=@system-service$/m);
  assert.match(unit, /^SystemCallFilter=~@privileged @resources$/m);
  const out = execFileSync('systemd-analyze', ['security', '--offline=true', localUnit()], { encoding: 'utf8' });
  const m = /Overall exposure level for ctlogd\.service: (\d+\.\d+)/.exec(out);
  assert.ok(m, out);
  // 2.1 before PrivateMounts, ProtectProc=invisible and the deny list (docs/service.md).
  assert.ok(Number(m[1]) <= 1.6, `exposure ${m[1]}`);
  for (const setting of ['PrivateMounts=', 'ProtectProc=', 'SystemCallFilter=~@privileged', 'SystemCallFilter=~@resources']) {
    assert.match(out, new RegExp(`^✓ ${setting}`, 'm'), `${setting} not credited:\n${out}`);
  }
});

test("the system calls the unit denies leave netns's setns() allowed", () => {
  const denied = execFileSync('systemd-analyze', ['syscall-filter', '@privileged', '@resources'], { encoding: 'utf8' });
  const names = new Set(denied.split('\n').map((l) => l.trim()));
  assert.ok(names.has('setuid') && names.has('setrlimit'), denied);
  assert.ok(!names.has('setns'), 'setns is denied: netns could not enter a namespace');
  const allowed = execFileSync('systemd-analyze', ['syscall-filter', '@system-service'], { encoding: 'utf8' });
  assert.match(allowed, /^\s+@process$/m);
  assert.match(execFileSync('systemd-analyze', ['syscall-filter', '@process'], { encoding: 'utf8' }), /^\s+setns$/m);
});

test('the unit runs ctlogd with flags ctlogd accepts, and reloads with SIGHUP', () => {
  const unit = readFileSync(UNIT, 'utf8');
  const exec = /^ExecStart=(\S+) (.*)$/m.exec(unit)!;
  assert.equal(exec[1], '/usr/bin/ctlogd');
  const args = exec[2].split(' ');
  const r = spawnSync(process.execPath, [CTLOGD, ...args, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  // Operator errors (usage, no addon or conntrack netlink, output, permission, config) are not retried.
  assert.match(unit, /^RestartPreventExitStatus=64 69 73 77 78$/m);
  // An end by SIGHUP or SIGUSR1 before Node has a handler: started again (docs/security.md).
  assert.match(unit, /^RestartForceExitStatus=SIGHUP SIGUSR1$/m);
});

test('the VyOS drop-in replaces the logger program and keeps VyOS in charge', () => {
  // VyOS's unit is not here: a stand-in with its name and a Python ExecStart.
  const dir = mkdtempSync(path.join(DIR, 'vyos-'));
  const unit = path.join(dir, 'vyos-conntrack-logger.service');
  writeFileSync(unit, '[Service]\nExecStart=/usr/bin/python3 -u /usr/libexec/vyos/services/vyos-conntrack-logger -c /run/vyos-conntrack-logger.conf\n');
  const dropin = readFileSync(path.join(ROOT, 'systemd/vyos-conntrack-logger.conf'), 'utf8');
  execFileSync('mkdir', ['-p', `${unit}.d`]);
  writeFileSync(path.join(`${unit}.d`, 'ctlogd.conf'), dropin.replace('/usr/bin/ctlogd', CTLOGD));
  const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // The empty ExecStart= clears VyOS's command; ours is the only one left.
  assert.match(dropin, /^ExecStart=\nExecStart=\/usr\/bin\/ctlogd --config \/run\/vyos-conntrack-logger\.conf$/m);
  // As the unit: an operator error (69: no addon, no conntrack netlink) is not retried every 2 s.
  assert.match(dropin, /^RestartPreventExitStatus=64 69 73 77 78$/m);
  assert.match(dropin, /^RestartForceExitStatus=SIGHUP SIGUSR1$/m);
});
