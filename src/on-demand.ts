/**
 * Node's modules that only some configurations use, loaded on first use.
 * Loading one starts more than its JavaScript (node:crypto sets up
 * OpenSSL's providers): measured here with the launcher's flags, node:tls
 * costs a process about 3 MB of memory and node:crypto about 1 MB more
 * than the modules every ctlogd loads. A ctlogd that never speaks TLS or
 * writes a Community ID need not pay them.
 */
import { createRequire } from 'node:module';
import type * as Crypto from 'node:crypto';
import type * as Tls from 'node:tls';

const load = createRequire(import.meta.url);
let cryptoModule: typeof Crypto | undefined;
let tlsModule: typeof Tls | undefined;

export const crypto = (): typeof Crypto => (cryptoModule ??= load('node:crypto') as typeof Crypto);
export const tls = (): typeof Tls => (tlsModule ??= load('node:tls') as typeof Tls);
