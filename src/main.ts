/**
 * The `ctlogd` command. `npm run build` bundles this file with everything
 * it imports into dist/ctlogd.mjs: one module to load instead of about a
 * hundred cuts the start from about 0.2 to 0.1 s of CPU and 9 MB of
 * memory (docs/benchmarks.md). Its whitespace and comments are left out:
 * V8 keeps the module's whole text for as long as ctlogd runs, and one
 * character past ASCII in one comment would make it two bytes a character
 * (1.3 MB, against 0.45 MB now). Names stay, for stack traces. The native
 * binding (../index.js) stays a module of its own: it finds the .node file
 * next to itself.
 */
import { main } from './cli.js';

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`ctlogd: internal error: ${e instanceof Error && e.stack ? e.stack : String(e)}\n`);
  process.exit(70);
});
