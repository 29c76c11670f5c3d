/**
 * The outputs are definitions, listed once (src/output/registry.ts): the
 * config's keys, the `output` key's values, what a reload compares and the
 * event types subscribed are made from them, and the checks across keys
 * are theirs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configKeys, ConfigError, loadConfig as loadWhole, type LoadOptions } from '../src/config.js';
import { sinkKey } from '../src/output/index.js';
import { outputDefinition, OUTPUT_DEFINITIONS, OUTPUT_NAMES } from '../src/output/registry.js';

/** The one output of a flat config. */
const loadConfig = (opts: LoadOptions) => loadWhole(opts).outputs[0];

const keys = configKeys();

test("every output's keys are config keys, with their variable and flag, in the registry's order after `output` and the format's", () => {
  const names = keys.map((k) => k.key);
  assert.deepEqual(names.slice(names.indexOf('outputs'), names.indexOf('outputs') + 4), ['outputs', 'output', 'format', 'conntrack_options']);
  const after = names.slice(names.indexOf('conntrack_options') + 1);
  const own = OUTPUT_DEFINITIONS.flatMap((d) => Object.keys(d.keys));
  assert.deepEqual(after.slice(0, own.length), own);
  for (const key of own) {
    const k = keys.find((c) => c.key === key)!;
    assert.equal(k.env, `CTLOGD_${key.toUpperCase()}`);
    assert.equal(k.arg, key.replace(/_/g, '-'));
  }
});

test('`output` allows exactly the registered outputs', () => {
  assert.deepEqual(OUTPUT_NAMES, ['stdout', 'file', 'syslog', 'ipfix', 'store']);
  assert.equal(keys.find((k) => k.key === 'output')?.allowed, `one of ${OUTPUT_NAMES.join(', ')}`);
  assert.throws(
    () => loadConfig({ env: {}, flags: { output: 'kafka' } }),
    /--output \(output\): must be one of stdout, file, syslog, ipfix, store: value was "kafka"/,
  );
});

test("a reload compares the chosen output's keys only; each output says its event types", () => {
  const base = loadConfig({ env: {}, flags: { output: 'file', 'output-file': '/tmp/x.log' } });
  const other = loadConfig({ env: {}, flags: { output: 'file', 'output-file': '/tmp/x.log', 'syslog-tag': 'other' } });
  assert.equal(sinkKey(base), sinkKey(other), "a syslog key is not the file output's");
  const format = loadConfig({ env: {}, flags: { output: 'file', 'output-file': '/tmp/x.log', format: 'json' } });
  assert.equal(sinkKey(base), sinkKey(format), 'a format is written by the same sink');
  const moved = loadConfig({ env: {}, flags: { output: 'file', 'output-file': '/tmp/y.log' } });
  assert.notEqual(sinkKey(base), sinkKey(moved));
  assert.deepEqual(outputDefinition('ipfix').types, ['new', 'destroy']);
  assert.deepEqual(outputDefinition('stdout').types, ['new', 'update', 'destroy']);
});

test("the checks across keys are the outputs' own, with one line each", () => {
  assert.throws(
    () => loadConfig({ env: {}, flags: { output: 'file' } }),
    (e: Error) => e instanceof ConfigError && /^config: output_file: must be a file path when output is "file"/.test(e.message),
  );
  assert.throws(() => loadConfig({ env: {}, flags: { output: 'ipfix' } }), /config: ipfix_host: must be the collector's address/);
  assert.throws(() => loadConfig({ env: {}, flags: { 'syslog-tls-cert': '/etc/c.pem' } }), /config: syslog_tls_key: must be set when syslog_tls_cert is/);
  // A syslog output's port 0 is made its protocol's own.
  assert.equal(loadConfig({ env: {}, flags: { output: 'syslog', 'syslog-host': '127.0.0.1', 'syslog-protocol': 'tls' } }).syslog_port, 6514);
});
