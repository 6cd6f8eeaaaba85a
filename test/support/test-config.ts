import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * Writes a copy of `config.test.yaml` changed by `change` (it edits the parsed YAML in place) to a temporary
 * file, for a test that needs other limits, retries, prices or fallbacks.
 * @returns the file's path, to pass as `CONFIG_FILE`
 */
export function writeTestConfig(change: (config: any) => void): string {
  const config = parse(readFileSync(join(__dirname, 'config.test.yaml'), 'utf8'));
  change(config);
  const file = join(mkdtempSync(join(tmpdir(), 'chat-backend-config-')), 'config.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

/** The registry entry with this id in a parsed configuration. */
export function modelIn(config: any, id: string): any {
  const model = config.models.find((m: { id: string }) => m.id === id);
  if (!model) throw new Error(`no model ${id} in the test configuration`);
  return model;
}
