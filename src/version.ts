/** ctlogd's version, as package.json gives it: `--version` and the metrics' build info say it. */
import { readFileSync } from 'node:fs';

let known: string | undefined;

export function version(): string {
  known ??= (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return known;
}
