/**
 * The native binding, loaded by the napi-rs loader at the package root
 * (index.js), which finds the prebuilt platform package or a local build.
 */
import * as binding from '../index.js';

export type NativeCapture = binding.Capture;
export type NativeStats = binding.CaptureStats;
export type NativeProtocols = binding.ProtocolMasks;
export const { startCapture, decodeMessages, Datagram } = binding;
export type Datagram = binding.Datagram;
