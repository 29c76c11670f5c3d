/**
 * How an error line shows what it was given: a flag value, a file name, a
 * key, a string from the config. Whatever its size, the line stays
 * readable: a 100 kB value becomes its first ECHO_MAX_CHARS characters and
 * how long it was.
 */

/** Characters of a value an error line shows; the README says the same. */
export const ECHO_MAX_CHARS = 60;

/** `s` whole if short, else its start and its length: `aaaa…(102400 bytes)`. */
export function echo(s: string): string {
  if (s.length <= ECHO_MAX_CHARS) return s;
  // Never half a surrogate pair: the line must stay valid UTF-8.
  const end = /[\ud800-\udbff]/.test(s.charAt(ECHO_MAX_CHARS - 1)) ? ECHO_MAX_CHARS - 1 : ECHO_MAX_CHARS;
  return `${s.slice(0, end)}…(${Buffer.byteLength(s)} bytes)`;
}

/** `s` on one line: a path, an environment value or a flag may hold a newline or another control character. */
export function oneLine(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it replaces
  return s.replace(/[\x00-\x1f\x7f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
