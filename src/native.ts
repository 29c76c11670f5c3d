/**
 * The native binding, loaded by the napi-rs loader at the package root
 * (index.js), which finds the prebuilt platform package or a local build.
 *
 * It is loaded on first use, not when this module is imported: without an
 * addon for the platform, `ctlogd --help`, `--version`, a config check and
 * `import 'ctlogd'` still work, and what needs the addon fails with one
 * line naming the missing package (AddonError).
 */
import type * as Binding from '../index.js';

export type NativeCapture = Binding.Capture;
export type NativeStats = Binding.CaptureStats;
export type NativeCaptureOptions = Binding.CaptureOptions;
export type NativeFilterOptions = Binding.FilterOptions;
export type NetMatch = Binding.NetMatch;
export type NumberMatch = Binding.NumberMatch;
export type MarkMatch = Binding.MarkMatch;
export type StatusMatch = Binding.StatusMatch;
export type NatMatch = Binding.NatMatch;
export type Datagram = Binding.Datagram;
export type TcpWatch = Binding.TcpWatch;
export type NativeStore = Binding.Store;
export type NativeStoreOptions = Binding.StoreOptions;
export type NativeStoreCounts = Binding.StoreCounts;
export type StoreQuery = Binding.StoreQuery;
export type StoreFound = Binding.StoreFound;
export type StoreRecord = Binding.StoreRecord;

/** The addon cannot be loaded; `message` is one line that says which package and what to do. */
export class AddonError extends Error {
  readonly code = 'ENOADDON';
  constructor(message: string) {
    super(message);
    this.name = 'AddonError';
  }
}

/** The platform package npm installs for this machine, as napi-rs names it. */
export function platformPackage(): string {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const header = report?.header;
  const libc = process.platform === 'linux' ? (header?.glibcVersionRuntime ? '-gnu' : '-musl') : '';
  return `ctlogd-${process.platform}-${process.arch}${libc}`;
}

/**
 * The first reason in the loader's chain that is not "there is no such
 * file" (the chain keeps only messages): a package that is there but does
 * not load, e.g. one built for a newer glibc.
 */
function brokenCause(e: unknown): string | undefined {
  for (let c = e instanceof Error ? e.cause : undefined; c instanceof Error; c = c.cause) {
    const line = c.message.split('\n')[0];
    if (!/^Cannot find (module|package)|wasi/i.test(line)) return line;
  }
  return undefined;
}

let binding: typeof Binding | undefined;

/** Loads the addon once; throws AddonError when there is none that loads. */
export async function loadNative(): Promise<typeof Binding> {
  if (binding) return binding;
  try {
    binding = await import('../index.js');
  } catch (e) {
    const pkg = platformPackage();
    const broken = brokenCause(e);
    const build = 'or build it from source: in a clone of ctlogd, `npm ci` (needs Rust); see the README, Installing';
    throw new AddonError(
      broken
        ? `the native addon ${pkg} cannot be loaded: ${broken}; reinstall ctlogd, ${build}`
        : `no native addon for this platform: the package ${pkg} is not installed (npm installs it with ctlogd on linux x64/arm64, glibc or musl); install it, ${build}`,
    );
  }
  return binding;
}

/** The addon, once loadNative() has loaded it. */
export function native(): typeof Binding {
  if (!binding) throw new Error('the native addon is used before loadNative()');
  return binding;
}
