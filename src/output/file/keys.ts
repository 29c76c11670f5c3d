/** The file output's keys, and what they ask of each other. */
import { kernelPath, option, PATH_MAX_BYTES, type Values } from '../../config/rules.js';

export const FILE_KEYS = {
  ...option(
    'output_file',
    'With output `file`: the file to append to (required then); reopened on SIGHUP (logrotate renames it, then signals).',
    '',
    kernelPath('a file path', PATH_MAX_BYTES, true),
  ),
};

/** What the file output asks of its keys when it is the output. */
export function fileRules(c: Values<typeof FILE_KEYS> & { output: string }): string | undefined {
  if (c.output === 'file' && c.output_file === '') {
    return 'output_file: must be a file path when output is "file" (set output_file, CTLOGD_OUTPUT_FILE or --output-file): value was ""';
  }
  return undefined;
}
