/**
 * The native binding, loaded by the napi-rs loader at the package root
 * (index.js), which finds the prebuilt platform package or a local build.
 */
import type * as Binding from '../index.js';

export type NativeCapture = Binding.Capture;
export type NativeOptions = Binding.CaptureOptions;
export type NativeStats = Binding.CaptureStats;

let binding: Promise<typeof Binding> | undefined;

/** Loads the binding on first use, so that `--help` and config errors work without it. */
export function native(): Promise<typeof Binding> {
  binding ??= import('../index.js');
  return binding;
}
