/**
 * json.ts alone: the value it builds is JSON.parse's for every valid text;
 * what JSON.parse takes silently (a key twice, any depth) is refused, with
 * where.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonError, MAX_DEPTH, parseJson } from '../src/config/json.js';

test("valid texts: the value is JSON.parse's", () => {
  const texts = [
    '{}',
    '[]',
    ' {"a": [1, -0, 0.5, -12.5e+3, 1E-2, 1e999, 123456789012345678901234567890], "b": {"c": null, "d": true, "e": false}}\r\n',
    '"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9 \\ud83d\\ude00 \\ud800 x"',
    '"caf\u00e9 \ud83d\ude00"',
    '{"__proto__": {"x": 1}, "constructor": 2, "toString": 3, "hasOwnProperty": 4}',
    '{"": 1, " ": 2, "a.b": 3}',
    '[[[[]]], {"a": {"b": {"c": [{}]}}}]',
    '0',
    '-1',
    '"s"',
  ];
  for (const t of texts) {
    const got = parseJson(t);
    assert.deepEqual(got, JSON.parse(t), t);
    // Own keys, not a prototype: "__proto__" is an ordinary key.
    if (t.includes('__proto__')) assert.equal(Object.getPrototypeOf(got), Object.prototype);
  }
});

test('a key twice: refused with its path and where it came again', () => {
  const cases: Array<[string, RegExp]> = [
    ['{"a": 1, "a": 2}', /^a: given twice \(again at line 1, column 10\); a key may appear only once$/],
    ['{"a": {"b": [1, {"c": 1,\n "c": 2}]}}', /^a\.b\[1\]\.c: given twice \(again at line 2, column 2\)/],
    ['[{"x": 1}, {"x": 1}, {"y": 1, "y": 2}]', /^\[2\]\.y: given twice/],
    ['{"__proto__": 1, "__proto__": 2}', /^__proto__: given twice/],
    ['{"a": 1, "\\u0061": 2}', /^a: given twice/],
  ];
  for (const [t, re] of cases)
    assert.throws(
      () => parseJson(t),
      (e: Error) => e instanceof JsonError && re.test(e.message),
      t,
    );
});

test(`nesting: ${MAX_DEPTH} levels are read, one more is refused, and no depth overflows the stack`, () => {
  assert.equal(MAX_DEPTH, 64);
  const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  assert.doesNotThrow(() => parseJson(nested(MAX_DEPTH)));
  for (const n of [MAX_DEPTH + 1, 5000, 1000000]) {
    assert.throws(
      () => parseJson(nested(n)),
      (e: Error) => e instanceof JsonError && e.offset === MAX_DEPTH && /^nested too deep at line 1, column 65: /.test(e.message),
    );
  }
});

test('not JSON: where and why', () => {
  const cases: Array<[string, RegExp]> = [
    ['{"a": 1,}', /^not valid JSON at line 1, column 9: unexpected '\}'; expected a double-quoted property name$/],
    ['[1 2]', /^not valid JSON at line 1, column 4: unexpected '2'; expected ',' or '\]' after an array element$/],
    ['01', /^not valid JSON at line 1, column 2: unexpected '1'; expected the end of the file after the JSON value$/],
    ['-', /^not valid JSON at line 1, column 2: unexpected end of file; expected a digit$/],
    ['"\\u12"', /^not valid JSON at line 1, column 6: unexpected '"'; expected 4 hex digits after \\u$/],
    ['nul', /^not valid JSON at line 1, column 4: unexpected end of file; expected null$/],
    ['\ufeff{}', /^not valid JSON at line 1, column 1: unexpected U\+FEFF; expected a value$/],
  ];
  for (const [t, re] of cases)
    assert.throws(
      () => parseJson(t),
      (e: Error) => e instanceof JsonError && re.test(e.message),
      t,
    );
});
