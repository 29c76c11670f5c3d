/**
 * JSON (RFC 8259) as the config reads it: one pass that builds the value
 * and, for a text it refuses, says where and why in ctlogd's own words,
 * the same on every Node version (V8's JSON.parse messages are not: for
 * `{"a": 1,}` Node 18 says "Unexpected token } in JSON at position 9",
 * Node 20 "Expected double-quoted property name in JSON at position 9",
 * and some name no position).
 *
 * Stricter than JSON.parse where a config needs it: a key given twice in
 * one object is refused (JSON.parse keeps the last silently; VyOS never
 * writes one), and so is nesting deeper than MAX_DEPTH (a loop with a
 * stack of open objects and arrays, so no input can overflow the call
 * stack either).
 */
import { echo } from '../echo.js';

/** Objects and arrays inside each other; a VyOS config needs 4 (`{"event": {"new": {"tcp": {}}}}`). */
export const MAX_DEPTH = 64;

/** Why a text was refused, and where: `offset` is in UTF-16 code units, as the text is. */
export class JsonError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
    this.name = 'JsonError';
  }
}

/** A character as an error message shows it: 'x', or its code point where it may not print. */
function showChar(text: string, i: number): string {
  const cp = text.codePointAt(i)!;
  const ch = String.fromCodePoint(cp);
  const u = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  if (cp >= 0x21 && cp <= 0x7e) return ch === "'" ? `"'"` : `'${ch}'`;
  return cp > 0x7f && /[\p{L}\p{N}\p{P}\p{S}]/u.test(ch) ? `'${ch}' (${u})` : u;
}

/** "line L, column C" of an offset (columns count from 1). */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  return `line ${before.split('\n').length}, column ${offset - before.lastIndexOf('\n')}`;
}

const SHORT_ESCAPES: Record<string, string> = { '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const UNESCAPE: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** An object or array being read, and where its next value goes. */
interface Open {
  value: Record<string, unknown> | unknown[];
  /** In an object: the key of the value being read. */
  key: string;
}

/** The key path of the value being read in `open`, then `last`: `event.new.tcp`, `conntrack_options[2]`. */
function keyPath(open: Open[], last: string): string {
  let s = '';
  for (const o of open) s += Array.isArray(o.value) ? `[${o.value.length}]` : `${s ? '.' : ''}${o.key}`;
  return `${s}${s ? '.' : ''}${last}`;
}

/**
 * The value of `text`, one JSON value with only white space around it.
 * Throws JsonError: "not valid JSON at line L, column C: ...", "KEY: given
 * twice ...", "nested deeper than ...".
 */
export function parseJson(text: string): unknown {
  let i = 0;
  const isDigit = (): boolean => {
    const c = text.charCodeAt(i);
    return c >= 0x30 && c <= 0x39;
  };
  const fail = (offset: number, problem: string): never => {
    throw new JsonError(offset, `not valid JSON at ${position(text, offset)}: ${problem}`);
  };
  const unexpected = (expected: string): never => fail(i, `unexpected ${i < text.length ? showChar(text, i) : 'end of file'}; expected ${expected}`);
  const ws = (): void => {
    for (let c = text.charCodeAt(i); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = text.charCodeAt(++i));
  };
  const digits = (what: string): void => {
    if (!isDigit()) unexpected(what);
    while (isDigit()) i++;
  };

  /** The string whose '"' is at i. */
  const string = (): string => {
    let out = '';
    let start = ++i;
    for (;;) {
      if (i >= text.length) unexpected(`'"' closing the string`);
      const ch = text.charAt(i);
      if (ch === '"') break;
      if (ch < ' ') {
        const written = SHORT_ESCAPES[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
        fail(i, `control character ${showChar(text, i)} in a string; must be written as ${written}`);
      }
      if (ch !== '\\') {
        i++;
        continue;
      }
      out += text.slice(start, i);
      i++;
      const e = text.charAt(i);
      if (e === 'u') {
        for (let k = 1; k <= 4; k++) {
          i++;
          if (!/[0-9a-fA-F]/.test(text.charAt(i))) unexpected('4 hex digits after \\u');
        }
        // One UTF-16 unit, as JSON.parse makes it: a pair of escapes makes one character.
        out += String.fromCharCode(Number.parseInt(text.slice(i - 3, i + 1), 16));
      } else if (e !== '' && Object.hasOwn(UNESCAPE, e)) {
        out += UNESCAPE[e];
      } else {
        unexpected('an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\u and 4 hex digits');
      }
      start = ++i;
    }
    out += text.slice(start, i);
    i++;
    return out;
  };

  /** A string, number, true, false or null at i; `what` names what else would do there. */
  const scalar = (what: string): unknown => {
    const c = text.charAt(i);
    if (c === '"') return string();
    const start = i;
    if (c === '-' || isDigit()) {
      if (c === '-') i++;
      if (text.charAt(i) === '0') i++;
      else digits('a digit');
      if (text.charAt(i) === '.') {
        i++;
        digits("a digit after '.'");
      }
      if (text.charAt(i) === 'e' || text.charAt(i) === 'E') {
        i++;
        if (text.charAt(i) === '+' || text.charAt(i) === '-') i++;
        digits('a digit in the exponent');
      }
      // As JSON.parse: the nearest double (1e999 is Infinity; the schema refuses it).
      return Number(text.slice(start, i));
    }
    const words: Record<string, unknown> = { true: true, false: false, null: null };
    const word = Object.keys(words).find((w) => w[0] === c);
    if (word === undefined) return unexpected(what);
    for (const ch of word) {
      if (text.charAt(i) !== ch) unexpected(word);
      i++;
    }
    return words[word];
  };

  const open: Open[] = [];
  /** A property name and its ':'; refused if the object has it already. */
  const name = (obj: Record<string, unknown>, what: string): string => {
    ws();
    if (text.charAt(i) !== '"') unexpected(what);
    const at = i;
    const key = string();
    if (Object.hasOwn(obj, key)) {
      throw new JsonError(at, `${echo(keyPath(open.slice(0, -1), key))}: given twice (again at ${position(text, at)}); a key may appear only once`);
    }
    ws();
    if (text.charAt(i) !== ':') unexpected("':' after the property name");
    i++;
    return key;
  };

  let what = 'a value';
  for (;;) {
    ws();
    let value: unknown;
    const c = text.charAt(i);
    if (c === '{' || c === '[') {
      if (open.length === MAX_DEPTH) {
        throw new JsonError(
          i,
          `nested too deep at ${position(text, i)}: objects and arrays more than ${MAX_DEPTH} deep; at most ${MAX_DEPTH} are allowed (a VyOS config is 4 deep)`,
        );
      }
      i++;
      ws();
      const close = c === '{' ? '}' : ']';
      const container: Open = { value: c === '{' ? {} : [], key: '' };
      if (text.charAt(i) === close) {
        i++;
        value = container.value;
      } else {
        open.push(container);
        if (!Array.isArray(container.value)) container.key = name(container.value, "a double-quoted property name or '}'");
        what = close === '}' ? 'a value' : "a value or ']'";
        continue;
      }
    } else {
      value = scalar(what);
    }
    // After a value: store it, then a ',' and the next, or the ends of what it ends.
    for (;;) {
      const top = open.at(-1);
      ws();
      if (top === undefined) {
        if (i < text.length) unexpected('the end of the file after the JSON value');
        return value;
      }
      if (Array.isArray(top.value)) top.value.push(value);
      // Defined, not assigned: a "__proto__" key is a key like any other, as JSON.parse makes it.
      else Object.defineProperty(top.value, top.key, { value, writable: true, enumerable: true, configurable: true });
      const close = Array.isArray(top.value) ? ']' : '}';
      if (text.charAt(i) === close) {
        i++;
        open.pop();
        value = top.value;
        continue;
      }
      if (text.charAt(i) !== ',') unexpected(`',' or '${close}' after ${close === '}' ? 'a property value' : 'an array element'}`);
      i++;
      if (!Array.isArray(top.value)) top.key = name(top.value, 'a double-quoted property name');
      what = 'a value';
      break;
    }
  }
}
