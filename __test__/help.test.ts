/**
 * --help says what an operator needs without the docs: every flag's
 * allowed values as the schema gives them (the words of those that take one
 * of a few), examples, how to get the counters and which says which loss,
 * the files, the exit codes of daemon.ts EXIT; and the man page made of it
 * (scripts/deb/man-help.sh, as scripts/deb.sh runs help2man) has the
 * sections FILES, EXIT STATUS and SEE ALSO.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { configKeys } from '../src/config.js';
import { EXIT } from '../src/daemon.js';
import { CTLOGD, ROOT } from './helpers/ctlogd.js';

const HELP = spawnSync(process.execPath, [CTLOGD, '--help'], { encoding: 'utf8', timeout: 10000 }).stdout;

/** The paragraph of --help that starts with `heading`, up to the next blank line. */
function paragraph(heading: string): string {
  const at = HELP.indexOf(`\n${heading}`);
  assert.ok(at >= 0, `--help has ${heading}`);
  const end = HELP.indexOf('\n\n', at + 1);
  return HELP.slice(at + 1, end < 0 ? undefined : end);
}

/** A flag's entry: its usage line and its text, up to the next flag. */
function entry(arg: string): string {
  const m = new RegExp(`\\n  (?:-\\w, )?--${arg}\\b[^\\n]*\\n((?: {8}[^\\n]*\\n)+)`).exec(HELP);
  assert.ok(m, `--help has --${arg}`);
  return m[0].replace(/\s+/g, ' ');
}

test('--help: every flag says what it allows, as the schema does; the words of one that takes one of a few are on its usage line', () => {
  let enumerated = 0;
  for (const k of configKeys()) {
    if (k.arg === undefined) continue;
    const text = entry(k.arg);
    assert.ok(text.includes(`Allowed: ${k.allowed.replace(/`/g, '').replace(/\s+/g, ' ')}.`), `--${k.arg}: ${text}`);
    const words = /^one of (.*)$/.exec(k.allowed)?.[1].split(', ');
    if (words === undefined) continue;
    enumerated++;
    for (const w of words) assert.match(text, new RegExp(`\\b${w}\\b`), `--${k.arg} allows ${w}`);
    if (words.join('|').length <= 40) assert.ok(text.includes(`--${k.arg} ${words.join('|')} `), `--${k.arg}'s usage line`);
  }
  // format, output, log_level, the syslog and IPFIX protocols, facility, nat events at least.
  assert.ok(enumerated >= 7, `${enumerated} enumerated flags`);
  assert.match(HELP, /-f, --format vyos\|conntrack\|json\|ecs\n/);
});

test('--help: examples, the counters and what each loss is, the files, the environment', () => {
  const examples = paragraph('Examples:');
  assert.ok(examples.split('\n').filter((l) => l.startsWith('  ctlogd ')).length >= 2, examples);
  const counters = paragraph('Counters:');
  for (const c of ['lost', 'undelivered', 'enobufs', 'dropped', 'output_lost', 'output_waiting', 'filtered', 'skipped', 'decode_errors']) {
    assert.match(counters, new RegExp(`^  ${c}\\n {8}\\S`, 'm'), c);
  }
  assert.match(counters, /^ {8}events the kernel dropped.*\n.*receive_buffer/m);
  assert.match(HELP, /systemctl kill -s USR1 ctlogd/);
  const files = paragraph('Files:');
  for (const f of ['/etc/ctlogd/ctlogd.json', '/run/vyos-conntrack-logger.conf', '/usr/share/ctlogd/vyos-conntrack-logger.conf', '/var/log/ctlogd/']) {
    assert.ok(files.includes(f), f);
  }
  assert.match(paragraph('Environment:'), /CTLOGD_QUEUE_SIZE/);
  assert.ok(
    HELP.split('\n').every((l) => l.length <= 80 || /^ {2}--\S+ \S+$/.test(l)),
    'lines of at most 80 characters',
  );
});

test('--help: the exit status of every code daemon.ts exits with', () => {
  const exit = paragraph('Exit status: ');
  for (const code of Object.values(EXIT)) assert.match(exit, new RegExp(`(?:^Exit status: |, |\\n)${code} `), `exit ${code}`);
  assert.match(paragraph('See also: '), /conntrack\(8\)/);
});

test('the man page made of --help has FILES, EXAMPLES, EXIT STATUS and SEE ALSO', (t) => {
  if (spawnSync('sh', ['-c', 'command -v help2man']).status !== 0) {
    t.skip('needs help2man (scripts/test.sh installs it)');
    return;
  }
  const r = spawnSync('help2man', ['--no-info', '--section=8', '--name=conntrack event logger', path.join(ROOT, 'scripts/deb/man-help.sh')], {
    encoding: 'utf8',
    env: { ...process.env, CTLOGD_JS: CTLOGD },
  });
  assert.equal(r.status, 0, r.stderr);
  const sections = [...r.stdout.matchAll(/^\.SH "?([^"\n]+)"?$/gm)].map((m) => m[1]);
  for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'EXAMPLES', 'SEE ALSO']) {
    assert.ok(sections.includes(s), `${s} in ${sections.join(', ')}`);
  }
  const exit = r.stdout.slice(r.stdout.indexOf('.SH "EXIT STATUS"'), r.stdout.indexOf('.SH', r.stdout.indexOf('.SH "EXIT STATUS"') + 1));
  for (const code of Object.values(EXIT)) assert.match(exit, new RegExp(`\\b${code} `), `exit ${code}`);
});
