/**
 * `outputs`: several outputs in one config, each with the keys of one
 * output, its `name` and its `event`; refused with one line naming where
 * and what when an entry is wrong, or given beside the flat output keys.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';
import { CTLOGD } from './helpers/ctlogd.js';

const DIR = mkdtempSync(path.join(tmpdir(), 'ctlogd-outputs-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

let n = 0;
function file(conf: object): string {
  const f = path.join(DIR, `c${n++}.json`);
  writeFileSync(f, JSON.stringify(conf));
  return f;
}

const EVENT = { new: {}, destroy: {} };
const ISSUE_EXAMPLE = {
  event: EVENT,
  outputs: [
    { output: 'stdout', format: 'vyos' },
    { output: 'file', output_file: '/var/log/ctlogd/events.json', format: 'json' },
    { name: 'collector', output: 'ipfix', ipfix_host: '192.0.2.10', event: { new: { tcp: {}, udp: {} }, destroy: { tcp: {}, udp: {} } } },
  ],
};

/** The one line loadConfig refuses `conf` with (and its environment, flags). */
function refusal(conf: object, env: NodeJS.ProcessEnv = {}, flags: Record<string, string> = {}): string {
  try {
    loadConfig({ path: file(conf), env, flags });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    assert.doesNotMatch(e.message, /\n/);
    return e.message;
  }
  assert.fail(`accepted: ${JSON.stringify(conf)}`);
}

test('a list of outputs: each whole, with its defaults, its name and its events', () => {
  const c = loadConfig({ path: file(ISSUE_EXAMPLE), env: {} });
  assert.deepEqual(
    c.outputs.map((o) => [o.name, o.output, o.format, o.event]),
    [
      ['stdout', 'stdout', 'vyos', EVENT],
      ['file', 'file', 'json', EVENT],
      ['collector', 'ipfix', 'vyos', { new: { tcp: {}, udp: {} }, destroy: { tcp: {}, udp: {} } }],
    ],
  );
  assert.equal(c.outputs[1].output_file, '/var/log/ctlogd/events.json');
  assert.equal(c.outputs[2].ipfix_host, '192.0.2.10');
  // Each output's own defaults, and its keys completed (a syslog port of 0 is its protocol's).
  assert.equal(c.outputs[2].ipfix_port, 4739);
  assert.equal(c.outputs[0].syslog_port, 514);
  // The flat keys are not the config's: its outputs are its outputs.
  assert.equal('format' in c, false);
  assert.equal('output' in c, false);
});

test('names: the output, with -2, -3 when repeated; a name given is kept; strings are coerced as in a flat file', () => {
  const c = loadConfig({
    path: file({
      event: EVENT,
      outputs: [
        { output: 'file', output_file: '/tmp/a' },
        { output: 'syslog', syslog_host: '127.0.0.1', syslog_port: '1514', syslog_protocol: 'tls' },
        { output: 'file', output_file: '/tmp/b' },
        { output: 'file', output_file: '/tmp/c', name: 'audit' },
        { output: 'file', output_file: '/tmp/d' },
        { output: 'syslog', syslog_protocol: 'tls', syslog_host: '127.0.0.1' },
      ],
    }),
    env: {},
  });
  assert.deepEqual(
    c.outputs.map((o) => o.name),
    ['file', 'syslog', 'file-2', 'audit', 'file-4', 'syslog-2'],
  );
  assert.equal(c.outputs[1].syslog_port, 1514);
  assert.equal(c.outputs[5].syslog_port, 6514);
});

test('a flat config is one output, named after it, taking every event subscribed', () => {
  const c = loadConfig({ path: file({ event: EVENT, output: 'file', output_file: '/tmp/x', format: 'json' }), env: {} });
  assert.equal(c.outputs.length, 1);
  assert.deepEqual([c.outputs[0].name, c.outputs[0].output, c.outputs[0].format, c.outputs[0].event], ['file', 'file', 'json', EVENT]);
  // Without a config file, the embedded default: one stdout output.
  assert.deepEqual(
    loadConfig({ env: {} }).outputs.map((o) => [o.name, o.format]),
    [['stdout', 'vyos']],
  );
});

test('refused, one line each, naming where, the entry, the key, what is allowed and the value', () => {
  const where = (f: string) => `config ${f}: `;
  const cases: Array<[object, RegExp]> = [
    [
      { event: EVENT, outputs: [] },
      /: outputs: must be a non-empty list \(a JSON array\) of outputs, each an object of the keys output, format, .*, name, event: value was \[\]$/,
    ],
    [{ event: EVENT, outputs: {} }, /: outputs: must be a non-empty list .*: value was \{\}$/],
    [{ event: EVENT, outputs: ['stdout'] }, /: outputs\[0\]: must be an object of the keys output, .*: value was "stdout"$/],
    [
      { event: EVENT, outputs: [{ output: 'stdout' }, { output: 'kafka' }] },
      /: outputs\[1\]\.output: must be one of stdout, file, syslog, ipfix, store: value was "kafka"$/,
    ],
    [
      { event: EVENT, outputs: [{ output: 'stdout', colour: 'red' }] },
      /: outputs\[0\]: colour: unknown key; allowed: output, format, .*, name, event: value was \{"output":"stdout","colour":"red"\}$/,
    ],
    [{ event: EVENT, outputs: [{ output: 'stdout', queue_size: 5 }] }, /: outputs\[0\]: queue_size: unknown key; allowed: /],
    [
      { event: EVENT, outputs: [{ output: 'syslog', syslog_port: '70000' }] },
      /: outputs\[0\]\.syslog_port: must be an integer from 0 to 65535 .*: value was "70000"$/,
    ],
    [
      { event: EVENT, outputs: [{ output: 'stdout', name: 'a b' }] },
      /: outputs\[0\]\.name: must be 1 to 64 letters, digits, `_`, `\.` and `-` \(a string\): value was "a b"$/,
    ],
    [
      {
        event: EVENT,
        outputs: [
          { output: 'stdout', name: 'x' },
          { output: 'stdout', name: 'x' },
        ],
      },
      /: outputs\[1\]\.name: must differ from the name of outputs\[0\]: .*: value was "x"$/,
    ],
    // A name given that a default would take.
    [
      { event: EVENT, outputs: [{ output: 'stdout', name: 'stdout-2' }, { output: 'stdout' }, { output: 'stdout' }] },
      /: outputs\[1\]\.name: must be given: the default, stdout-2, is the name of outputs\[0\]$/,
    ],
    [
      { event: EVENT, outputs: [{ output: 'stdout', event: { update: {} } }] },
      /: outputs\[0\]\.event: must be a subset of event \(the events subscribed\): update is not subscribed; event is \{"new":\{\},"destroy":\{\}\}: value was \{"update":\{\}\}$/,
    ],
    [
      { event: { new: { tcp: {} } }, outputs: [{ output: 'stdout', event: { new: {} } }] },
      /: outputs\[0\]\.event: must be a subset of event .*: new takes every protocol, where event keeps tcp only; event is \{"new":\{"tcp":\{\}\}\}: value was \{"new":\{\}\}$/,
    ],
    [
      { event: { new: { tcp: {} } }, outputs: [{ output: 'stdout', event: { new: { udp: {} } } }] },
      /: outputs\[0\]\.event: must be a subset of event .*: new takes udp, which event does not keep; /,
    ],
    [
      { event: EVENT, outputs: [{ output: 'stdout', event: { new: { sctp: {} } } }] },
      /: outputs\[0\]\.event\.new: unknown protocol "sctp"; allowed: tcp, udp, icmp, other: value was \{"sctp":\{\}\}$/,
    ],
    // Each output's own rules, in its entry.
    [{ event: EVENT, outputs: [{ output: 'stdout' }, { output: 'file' }] }, /: outputs\[1\]\.output_file: must be a file path when output is "file"/],
    [
      { event: EVENT, outputs: [{ output: 'ipfix', ipfix_host: '192.0.2.1', event: { new: { tcp: {} } } }, { output: 'ipfix' }] },
      /: outputs\[1\]\.ipfix_host: must be the collector's address/,
    ],
    [
      { event: { update: {}, new: {} }, outputs: [{ output: 'stdout' }, { output: 'ipfix', ipfix_host: '192.0.2.1', event: { update: {} } }] },
      /: outputs\[1\]\.event: must name new or destroy when output is "ipfix"/,
    ],
    [
      {
        event: EVENT,
        outputs: [
          { output: 'file', output_file: path.join(DIR, 'same') },
          { output: 'file', output_file: path.join(DIR, 'same') },
        ],
      },
      /: outputs\[1\]\.output_file: is the file outputs\[0\] \(file\) appends to; two outputs in one file would mix their lines: name another file: /,
    ],
  ];
  for (const [conf, re] of cases) {
    const f = file(conf);
    const msg = (() => {
      try {
        loadConfig({ path: f, env: {} });
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.message;
      }
      assert.fail(`accepted: ${JSON.stringify(conf)}`);
    })();
    assert.doesNotMatch(msg, /\n/);
    assert.ok(msg.startsWith(where(f)), msg);
    assert.match(msg, re, JSON.stringify(conf));
  }
});

test('the same file under two names is one file: refused', () => {
  const real = path.join(DIR, 'real.log');
  writeFileSync(real, '');
  const link = path.join(DIR, 'link.log');
  spawnSync('ln', ['-s', real, link]);
  assert.match(
    refusal({
      event: EVENT,
      outputs: [
        { output: 'file', output_file: real },
        { output: 'file', output_file: link },
      ],
    }),
    /outputs\[1\]\.output_file: is the file outputs\[0\] \(file\) appends to/,
  );
});

test('outputs beside a flat output key, from the file, a variable or a flag: refused, naming both', () => {
  const both = { ...ISSUE_EXAMPLE, format: 'json' };
  assert.match(refusal(both), /: format: must not be set beside outputs: with outputs, each output's keys go in its entry .*: value was "json"$/);
  assert.match(refusal({ ...ISSUE_EXAMPLE, output_file: '/tmp/x' }), /: output_file: must not be set beside outputs/);
  assert.match(refusal(ISSUE_EXAMPLE, { CTLOGD_SYSLOG_HOST: '192.0.2.1' }), /^CTLOGD_SYSLOG_HOST \(syslog_host\): must not be set beside outputs/);
  assert.match(refusal(ISSUE_EXAMPLE, {}, { output: 'file' }), /^--output \(output\): must not be set beside outputs/);
  // The general keys stay the config's.
  assert.equal(loadConfig({ path: file({ ...ISSUE_EXAMPLE, queue_size: '10' }), env: { CTLOGD_STATS_INTERVAL: '5' } }).stats_interval, 5);
});

test('the CLI: a bad entry is one line, exit 78', () => {
  const r = spawnSync(CTLOGD, ['-c', file({ event: EVENT, outputs: [{ output: 'stdout' }, { output: 'file' }] })], { encoding: 'utf8' });
  assert.equal(r.status, 78, r.stderr);
  assert.match(r.stderr, /^ctlogd: config \S+: outputs\[1\]\.output_file: must be a file path when output is "file".*\n$/);
  assert.equal(r.stdout, '');
});
