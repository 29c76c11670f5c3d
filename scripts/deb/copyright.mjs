// node scripts/deb/copyright.mjs LIBDIR > copyright
//
// The Debian copyright file (machine-readable format 1.0) of ctlogd as
// installed in LIBDIR (/usr/lib/ctlogd): ctlogd's own LICENSE for every
// file, then one paragraph per npm package in LIBDIR/node_modules, each with
// the copyright lines of its licence file and that file's text (less a
// title line like "The MIT License"). deb.sh then deletes the licence files
// from node_modules: their notices are here, where Debian wants them (policy
// 12.5). A text is given once per distinct wording (copyright lines aside);
// Apache-2.0 points to /usr/share/common-licenses, as lintian asks.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const lib = process.argv[2];
const INSTALLED = '/usr/lib/ctlogd';

/** SPDX identifiers as the copyright format spells them. */
const DEP5_NAME = { MIT: 'Expat' };
const COMMON_LICENSES = { 'Apache-2.0': 'Apache License, Version 2.0' };

/**
 * A notice line, "Copyright (c) 2015 Someone", moved to Copyright:; not
 * "copyright notice", "COPYRIGHT HOLDERS" or "Copyright and related rights
 * ... are waived", which are the licence's words and stay in its text.
 */
const NOTICE = /^[\s*-]*(?:copyright\b(?!\s+(?:notice|holders?|owners?|and|law|laws|statement|licen[cs]e|of|to|is|in|for|or|on)\b)|\(c\)|©)/i;
/** A title line, "The MIT License (MIT)": the short name says it. */
const TITLE = /^\s*\(?(?:the\s+)?(?:mit|isc)\s+licen[cs]e(?:\s*\((?:mit|isc)\))?\)?\s*$/i;

function licenseFile(dir) {
  const name = readdirSync(dir).find((f) => /^(?:licen[cs]e|copying)(?:\.(?:md|txt))?$/i.test(f));
  return name && path.join(dir, name);
}

/** Every package directory under node_modules, nested ones too, parents first. */
function packages(dir) {
  const out = [];
  const nm = path.join(dir, 'node_modules');
  let names;
  try {
    names = readdirSync(nm)
      .filter((n) => !n.startsWith('.'))
      .sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const dirs = n.startsWith('@')
      ? readdirSync(path.join(nm, n))
          .sort()
          .map((m) => path.join(nm, n, m))
      : [path.join(nm, n)];
    for (const d of dirs) out.push(d, ...packages(d));
  }
  return out;
}

/** The notice lines (for Copyright:) and the rest of the text, less its title and runs of blank lines. */
function split(text) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const notices = lines
    .filter((l) => NOTICE.test(l))
    .map((l) =>
      l
        .replace(NOTICE, '')
        .replace(/^\s*(?:\(c\)|©)?\s*/i, '')
        .trim(),
    );
  const rest = lines
    .filter((l) => !NOTICE.test(l) && !TITLE.test(l))
    .join('\n')
    .replace(/\n\s*\n(?:\s*\n)+/g, '\n\n')
    .trim();
  return { notices, rest };
}

/** A field's continuation lines: one leading space, " ." for a blank line. */
const body = (text) =>
  text
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.trimEnd()}`))
    .join('\n');

const stanzas = [];
/** Licence texts by wording, each under its own short name. */
const texts = new Map();
const names = new Set();

function licenseName(spdx, rest, pkgName) {
  const base = DEP5_NAME[spdx] ?? spdx;
  if (COMMON_LICENSES[spdx]) {
    texts.set(`common ${spdx}`, {
      name: base,
      text: `On Debian systems, the full text of the ${COMMON_LICENSES[spdx]} is in\n/usr/share/common-licenses/${spdx}.`,
    });
    return base;
  }
  const key = `${base}\n${rest.replace(/\s+/g, ' ')}`;
  if (!texts.has(key)) {
    const name = names.has(base) ? `${base}~${pkgName.replace(/[@/]/g, '')}` : base;
    names.add(name);
    texts.set(key, { name, text: rest });
  }
  return texts.get(key).name;
}

function stanza(files, dir, pkg, comment) {
  const file = licenseFile(dir);
  const { notices, rest } = split(file ? readFileSync(file, 'utf8') : '');
  const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
  const copyright = notices.length ? notices : [author ?? `the authors of ${pkg.name}`];
  if (typeof pkg.license !== 'string') throw new Error(`${pkg.name}: package.json names no SPDX licence`);
  // Without a file of its own, a package under ctlogd's licence gets ctlogd's text.
  if (!file && pkg.license !== own.license && !COMMON_LICENSES[pkg.license]) {
    throw new Error(`${pkg.name}: no licence file, and no text for ${pkg.license}`);
  }
  const name = licenseName(pkg.license, file ? rest : split(readFileSync(licenseFile(lib), 'utf8')).rest, pkg.name);
  stanzas.push(`Files: ${files}\nCopyright: ${copyright.join('\n ')}\nLicense: ${name}${comment ? `\nComment: ${comment}` : ''}`);
}

const own = JSON.parse(readFileSync(path.join(lib, 'package.json'), 'utf8'));
stanza('*', lib, own);
const addons = [];
for (const dir of packages(lib)) {
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  // The addon's package: ctlogd's own, under Files: *.
  if (pkg.name.startsWith(`${own.name}-linux-`)) {
    addons.push(pkg.name);
    continue;
  }
  const rel = path.relative(lib, dir);
  stanza(`${INSTALLED.slice(1)}/${rel}/*`, dir, pkg, `npm package ${pkg.name} ${pkg.version}`);
}

const header = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${own.name}
Comment: Built from the npm packages ${[own.name, ...addons].join(' and ')} ${own.version};
 ${INSTALLED}/node_modules holds the npm packages it depends on.`;
const licenses = [...texts.values()].map(({ name, text }) => `License: ${name}\n${body(text)}`);
process.stdout.write([header, ...stanzas, ...licenses].join('\n\n') + '\n');
