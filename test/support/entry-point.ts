import { transformFile } from '@swc/core';
import { ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

/** The real entry point running as a child process, with what it printed so far. */
export interface EntryPointProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * Compiles `src/` and `migrations/` the way `npm run build` does (nest-cli.json's SWC builder with the Nest CLI's
 * SWC defaults: CommonJS, legacy decorators with their metadata, class names kept) into a fresh directory under
 * `node_modules/.cache`, so packages resolve as from `dist/` and `dist/` itself is left alone.
 * @returns the directory; `<dir>/src/main.js` is the entry point (remove the directory when done)
 */
export async function buildEntryPoint(): Promise<string> {
  const cache = join(ROOT, 'node_modules', '.cache');
  await mkdir(cache, { recursive: true });
  const out = await mkdtemp(join(cache, 'chat-backend-entry-'));
  const files = (await Promise.all(['src', 'migrations'].map((d) => readdir(join(ROOT, d), { recursive: true })))).flatMap((names, i) =>
    names.map((name) => join(ROOT, ['src', 'migrations'][i], name)),
  );
  await Promise.all(
    files.map(async (file) => {
      const target = join(out, relative(ROOT, file));
      if (file.endsWith('.js')) {
        await mkdir(dirname(target), { recursive: true });
        await copyFile(file, target);
        return;
      }
      if (!file.endsWith('.ts') || file.endsWith('.spec.ts')) return;
      const { code } = await transformFile(file, {
        swcrc: false,
        module: { type: 'commonjs' },
        jsc: {
          target: 'es2021',
          parser: { syntax: 'typescript', decorators: true, dynamicImport: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
          keepClassNames: true,
        },
      });
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target.replace(/\.ts$/, '.js'), code);
    }),
  );
  return out;
}

/**
 * Runs the entry point on this Node with only PATH, HOME and `env` in its environment: `<built>/src/main.js` (see
 * {@link buildEntryPoint}) as `npm run start:prod` runs `dist/src/main.js`, or without `built`, `src/main.ts`
 * compiled on the fly by ts-node (what `npm start` runs).
 */
export function spawnEntryPoint(env: Record<string, string>, built?: string): EntryPointProcess {
  const args = built ? [join(built, 'src', 'main.js')] : ['-r', 'ts-node/register/transpile-only', 'src/main.ts'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}
