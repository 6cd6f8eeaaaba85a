import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError, loadAppConfig } from '../config/app-config';

/** Writes a YAML file with these lines and loads it. */
function load(yaml: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'context-config-')), 'config.yaml');
  writeFileSync(file, yaml);
  return loadAppConfig({ CONFIG_FILE: file });
}

describe('context_management configuration', () => {
  it('has sane defaults', () => {
    expect(load('{}\n').contextManagement).toMatchObject({
      mode: 'full',
      summary_model: null,
      title_model: null,
      default_system_prompt: null,
      documents_budget_tokens: 8000,
      safety_margin_tokens: 256,
      token_estimate_factor: 1.25,
      summary_max_tokens: 512,
    });
  });

  it('stops start-up on an unknown summary or title model and on out-of-range budgets, one line each', () => {
    try {
      load('context_management:\n  summary_model: nope\n  title_model: offline/echo\n  safety_margin_tokens: -1\n  token_estimate_factor: 0.5\n');
      fail('expected the configuration to be rejected');
    } catch (err) {
      const problems = (err as ConfigValidationError).problems.join('\n');
      expect(problems).toMatch(/context_management\.summary_model: "nope" is not a model id or alias/);
      expect(problems).not.toMatch(/title_model/); // the built-in offline model is always known
      expect(problems).toMatch(/safety_margin_tokens/);
      expect(problems).toMatch(/token_estimate_factor/);
    }
  });
});
