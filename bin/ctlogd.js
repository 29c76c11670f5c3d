#!/usr/bin/env node
// The first thing ctlogd does, before the rest of it loads (about 0.1 s):
// SIGUSR1's default action in Node opens its inspector, through which any
// local user could run code as ctlogd, and SIGHUP's ends the process.
// Until the daemon installs its own handlers, each of these is noted here
// and acted on once it runs (src/early-signals.ts). Node's own start,
// before this line runs, is the launcher's to cover (bin/ctlogd).
const early = new Set();
const note = (signal) => early.add(signal);
process.on('SIGUSR1', note);
process.on('SIGHUP', note);
globalThis[Symbol.for('ctlogd.earlySignals')] = { signals: early, listener: note };
await import('../dist/ctlogd.mjs');
