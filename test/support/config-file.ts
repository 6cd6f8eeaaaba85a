import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { TEST_ENV } from './app';

/**
 * Writes a configuration file: the test one (`config.test.yaml`) with `context_management` settings replaced.
 * @returns its path, for `startApp({ CONFIG_FILE })`
 */
export function testConfigWith(contextManagement: Record<string, unknown>): string {
  const base = parse(readFileSync(TEST_ENV.CONFIG_FILE, 'utf8')) as Record<string, unknown>;
  const path = join(mkdtempSync(join(tmpdir(), 'chat-backend-config-')), 'config.yaml');
  writeFileSync(path, stringify({ ...base, context_management: contextManagement }));
  return path;
}
