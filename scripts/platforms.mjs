/**
 * The platform packages, from package.json's napi.targets (the one list):
 * napi-rs's platform name of a Rust target triple, and the root package's
 * optionalDependencies, which scripts/pack.sh writes into the manifest it
 * packs. They are not in the repository's package.json: a clone's `npm ci`
 * builds the addon itself, and could not install packages that are not
 * published yet.
 *
 *   node scripts/platforms.mjs TRIPLE   prints the platform, e.g. linux-x64-gnu
 */
import { readFileSync } from 'node:fs';

const CPU = { x86_64: 'x64', aarch64: 'arm64' };

/** aarch64-unknown-linux-musl -> linux-arm64-musl */
export function platformOf(triple) {
  const [arch, , os, abi] = triple.split('-');
  if (!CPU[arch] || os !== 'linux' || !abi) throw new Error(`not a target ctlogd packs: ${triple}`);
  return `${os}-${CPU[arch]}-${abi}`;
}

/** What the packed root package lists: every platform package at the root's version. */
export function optionalDependencies(pkg) {
  return Object.fromEntries(pkg.napi.targets.map((t) => [`${pkg.name}-${platformOf(t)}`, pkg.version]));
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const triple = process.argv[2];
  if (!pkg.napi.targets.includes(triple)) {
    console.error(`platforms.mjs: ${triple} is not a target of package.json (napi.targets: ${pkg.napi.targets.join(', ')})`);
    process.exit(64);
  }
  console.log(platformOf(triple));
}
