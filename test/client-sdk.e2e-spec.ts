import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, TestApp } from './support/app';
import { textPdf } from './support/pdfs';

const ROOT = join(__dirname, '..');

/** Runs a Node CLI of a dev dependency on this Node (24); throws with its output when it fails. */
function runNode(script: string, args: string[], options: { cwd?: string } = {}): string {
  try {
    return execFileSync(process.execPath, [script, ...args], {
      cwd: options.cwd ?? ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${script} failed:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
}

/** Runs a compiled Node program without blocking this process, whose event loop serves the app it talks to. */
async function runNodeAsync(script: string, env: Record<string, string>): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [script], { env: { ...process.env, ...env }, encoding: 'utf8' });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${script} failed:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
}

/**
 * A TypeScript client generated with @hey-api/openapi-ts from the committed `openapi.json`, compiled with
 * `strict`, drives a running app through a whole conversation (test/client-sdk/hey-api-driver.ts).
 */
describe('a client generated from openapi.json (@hey-api/openapi-ts)', () => {
  let t: TestApp;
  let dir: string;
  let steps: Record<string, Record<string, unknown>>;

  beforeAll(async () => {
    t = await startApp();
    dir = mkdtempSync(join(tmpdir(), 'hey-api-client-'));
    runNode(join(ROOT, 'node_modules/@hey-api/openapi-ts/bin/run.js'), [
      '-i', join(ROOT, 'openapi.json'), '-o', join(dir, 'client'), '-c', '@hey-api/client-fetch', '--no-log-file', '--silent',
    ]);
    copyFileSync(join(__dirname, 'client-sdk', 'hey-api-driver.ts'), join(dir, 'driver.ts'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noUncheckedIndexedAccess: false,
          target: 'ES2023',
          module: 'commonjs',
          moduleResolution: 'node',
          lib: ['ES2023', 'DOM', 'DOM.Iterable'],
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
          skipLibCheck: true,
          outDir: 'out',
        },
        files: ['driver.ts'],
      }),
    );
    runNode(join(ROOT, 'node_modules/typescript/bin/tsc'), ['-p', join(dir, 'tsconfig.json')]);
    const pdfPath = join(dir, 'notes.pdf');
    writeFileSync(pdfPath, await textPdf(['Meeting notes: ship the client.']));
    const out = await runNodeAsync(join(dir, 'out', 'driver.js'), { BASE_URL: t.url, PDF_PATH: pdfPath });
    steps = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { step: string })
        .map(({ step, ...facts }) => [step, facts]),
    );
  }, 90_000);

  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('registers, and gets a typed 401 problem for a wrong password', () => {
    expect(steps.register).toEqual({ status: 201, token_type: 'bearer' });
    expect(steps['wrong-password']).toEqual({ status: 401, problem_status: 401, detail: expect.any(String) });
  });

  it('lists models in the OpenAI list shape', () => {
    expect(steps.models).toMatchObject({ object: 'list', first: expect.any(String) });
  });

  it('sends without the defaulted fields and reads the JSON answer', () => {
    const sessionId = (steps.session as { id: number }).id;
    expect(steps.send).toMatchObject({ session_header: String(sessionId), finish_reason: 'stop', output_text: expect.stringContaining('Hello there') });
    expect(steps.send.total_tokens).toBeGreaterThan(0);
  });

  it('streams an answer as typed events (start, delta, done)', () => {
    expect(steps.stream).toMatchObject({ events: ['start', 'delta', 'done'], finish_reason: 'stop', text: expect.stringContaining('Tell me more') });
  });

  it('reads the history, uploads a PDF, uses prompts, switches the model and deletes the session', () => {
    expect(steps.history).toMatchObject({ messages: 4, roles: ['user', 'assistant', 'user', 'assistant'] });
    expect(steps.upload).toEqual({ status: 201, page_count: 1 });
    expect(steps.prompts).toEqual({ variables: ['text'], preview: 'Summarize: short' });
    expect(steps['switch-model']).toEqual({ model: 'openai/gpt-3.5-turbo' });
    expect(steps.delete).toEqual({ message: 'Session deleted successfully', then: 404, problem_status: 404 });
  });
});
