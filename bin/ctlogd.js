#!/usr/bin/env node
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`ctlogd: internal error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(70);
});
