import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The `version` of the nearest package.json above this file (the source tree or `dist/`). */
export function packageVersion(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (dirname(dir) === dir) throw new Error('package.json not found above ' + from);
  }
}
