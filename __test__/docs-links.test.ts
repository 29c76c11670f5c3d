/**
 * Every relative link of README.md and docs/*.md leads somewhere: its file
 * or folder exists, and its #anchor is a heading there, named as GitHub
 * names a heading's anchor. Links in code (fenced or inline) are text, not
 * links; links to other sites are not followed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/ctlogd.js';

const PAGES = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The page's lines outside fenced code blocks, each with its line number, inline code spans blanked. */
function prose(text: string): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  let fence: string | undefined;
  for (const [i, line] of text.split('\n').entries()) {
    const f = /^\s*(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (fence === undefined) fence = f[1][0];
      else if (f[1][0] === fence) fence = undefined;
      continue;
    }
    if (fence === undefined) out.push([i + 1, line.replace(/(`+)[^`]*?\1/g, (m) => ' '.repeat(m.length))]);
  }
  return out;
}

/** GitHub's anchor of a heading: its text without markup, lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/<[^>]+>/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings; a repeated one gets -1, -2, ... as on GitHub. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = readFileSync(file, 'utf8');
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const f = /^\s*(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (fence === undefined) fence = f[1][0];
      else if (f[1][0] === fence) fence = undefined;
      continue;
    }
    const h = fence === undefined ? /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line) : null;
    if (!h) continue;
    const base = slug(h[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every `[text](target)` of a page, outside code, with where it is. */
function links(page: string): Array<{ line: number; target: string }> {
  const out: Array<{ line: number; target: string }> = [];
  for (const [line, text] of prose(readFileSync(path.join(ROOT, page), 'utf8'))) {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line, target: m[1] });
  }
  return out;
}

test('the anchors are made as GitHub makes them', () => {
  assert.equal(slug("Replacing VyOS's logger"), 'replacing-vyoss-logger');
  assert.equal(slug('`vyos` (default)'), 'vyos-default');
  assert.equal(slug('Node.js on VyOS'), 'nodejs-on-vyos');
  assert.equal(slug('What `npm test` runs'), 'what-npm-test-runs');
  assert.equal(slug('Other targets: arm64, musl'), 'other-targets-arm64-musl');
  assert.equal(slug('How to add an output, a format, a key'), 'how-to-add-an-output-a-format-a-key');
});

test('every relative link of README.md and docs/ resolves, its #anchor too', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of PAGES) {
    for (const { line, target } of links(page)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      checked++;
      const [file, anchor] = target.split('#', 2) as [string, string | undefined];
      const where = file === '' ? path.join(ROOT, page) : path.resolve(path.dirname(path.join(ROOT, page)), decodeURI(file));
      if (!where.startsWith(ROOT + path.sep) || !existsSync(where)) {
        broken.push(`${page}:${line}: ${target}: no such file`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!statSync(where).isFile() || !where.endsWith('.md')) broken.push(`${page}:${line}: ${target}: an anchor in what is not a Markdown page`);
      else if (!anchors(where).has(anchor)) broken.push(`${page}:${line}: ${target}: no heading #${anchor} in ${path.relative(ROOT, where)}`);
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(checked > 50, `only ${checked} links checked: the pages lost their links, or the test lost them`);
});

test('every page of docs/ is linked from the README', () => {
  const linked = new Set(links('README.md').map(({ target }) => target.split('#')[0]));
  for (const page of PAGES.filter((p) => p.startsWith('docs/'))) assert.ok(linked.has(page), `README.md links to ${page}`);
});
