import { HttpStatus, Inject, Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import { ChildProcess, fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ProblemException } from '../common/problem';
import { inSpan } from '../common/tracing';
import { MetricsService } from '../metrics/metrics.service';
import { AppConfig, appConfig } from '../config/app-config';

/**
 * The worker script: plain JavaScript next to this file, so it is the same file under jest/ts-node (`src/files`)
 * and under `npm start`/Docker (`dist/src/files`, copied there as a nest-cli asset).
 */
const WORKER = join(__dirname, 'pdf-extract.worker.js');
/** pdf.js's package folder: the only thing besides the worker script the child may read. */
const PDFJS_DIR = dirname(require.resolve('pdfjs-dist/package.json'));
/** How often the child's resident memory is read from /proc. A bomb grows ~250 MB/s, so overshoot stays small. */
const MEMORY_POLL_MS = 25;

/** Text and page count of a PDF. */
export interface ExtractedPdf {
  pageCount: number;
  text: string;
  /** The text was cut at `files.max_text_chars`. */
  truncated: boolean;
}

const FAILURE_REASONS = ['encrypted', 'too_many_pages', 'corrupt', 'failed'] as const;

/** What the worker answers (see pdf-extract.worker.js). */
export type WorkerAnswer =
  | { ok: true; pageCount: number; text: string; truncated: boolean }
  | { ok: false; reason: (typeof FAILURE_REASONS)[number]; pageCount?: number };

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * The child's answer checked before anything is done with it, since the child runs pdf.js on a file an attacker
 * wrote: text a string of at most `maxTextChars` without U+0000 (PostgreSQL refuses it), page counts
 * non-negative integers, failures of a known kind. Anything else is `{ ok: false, reason: 'failed' }`.
 */
export function parseWorkerAnswer(m: unknown, maxTextChars: number): WorkerAnswer {
  const failed = { ok: false, reason: 'failed' } as const;
  if (typeof m !== 'object' || m === null) return failed;
  const a = m as Record<string, unknown>;
  if (a.ok === true) {
    const { text, pageCount, truncated } = a;
    if (typeof text !== 'string' || text.length > maxTextChars || text.includes('\0')) return failed;
    if (!isCount(pageCount) || typeof truncated !== 'boolean') return failed;
    return { ok: true, pageCount, text, truncated };
  }
  const reason = FAILURE_REASONS.find((r) => r === a.reason);
  if (a.ok !== false || !reason) return failed;
  if (reason === 'too_many_pages') return isCount(a.pageCount) ? { ok: false, reason, pageCount: a.pageCount } : failed;
  return { ok: false, reason };
}

/** How one child run ended, with what it cost. */
interface ChildRun {
  answer?: WorkerAnswer;
  killedFor?: 'time' | 'memory';
  exit: { code: number | null; signal: NodeJS.Signals | null };
  elapsedMs: number;
  /** Peak resident memory (VmHWM), MiB; 0 where /proc is not available. */
  peakRssMb: number;
}

const unprocessable = (detail: string) => new ProblemException(HttpStatus.UNPROCESSABLE_ENTITY, detail);

/**
 * Extracts a PDF's text in a separate, short-lived Node process, because pdf.js in the API process is not safe on
 * hostile files (STACK.md: a 1 MB compression bomb took 2.2 GB and 11 s; a worker thread's heap limit did not
 * stop it since buffers live outside the V8 heap). The child:
 *
 * - is killed (SIGKILL) after `files.extraction_timeout_ms`, or as soon as its resident memory read from
 *   `/proc/<pid>/status` passes `files.extraction_memory_mb` (`--max-old-space-size` bounds the heap too);
 * - gets no environment (no database URL, key or secret) and runs under Node's permission model: it may read
 *   only pdf.js and its own script; no file writes, no child processes, no worker threads, no native addons;
 * - checks the page count (`files.max_pages`) before extracting, and stops at `files.max_text_chars`.
 *
 * At most `files.max_concurrent_extractions` uploads are received or extracted at once in this instance, and
 * `files.max_concurrent_extractions_per_user` per user; beyond, 429 with Retry-After. The API's event loop only
 * waits on the child, so other requests and streams keep flowing meanwhile. The child's answer is checked
 * ({@link parseWorkerAnswer}) before it is used.
 */
@Injectable()
export class PdfExtractionService implements OnApplicationShutdown {
  private readonly logger = new Logger(PdfExtractionService.name);
  /** Children alive now (killed at shutdown). */
  private readonly running = new Set<ChildProcess>();
  /** Extraction slots taken, in this instance and per user id. */
  private active = 0;
  private readonly perUser = new Map<number, number>();

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  /**
   * Runs one extraction; the caller holds a slot from {@link reserve}.
   * @param bytes the PDF (already known to start like one)
   * @returns its page count and text (trimmed, possibly truncated)
   * @throws 422 encrypted, corrupt, too many pages, no text, or a budget passed (the detail says which)
   */
  async extract(bytes: Buffer): Promise<ExtractedPdf> {
    return inSpan('file.extract_pdf', { 'file.size': bytes.length }, async () => this.interpret(await this.runChild(bytes)));
  }

  /** Kills children still running when the app stops, so none outlives it. */
  onApplicationShutdown(): void {
    for (const child of this.running) child.kill('SIGKILL');
  }

  /**
   * Takes an extraction slot for `userId`, in this instance and for the user. Uploads take it before their body
   * is read, so a refusal costs no bytes and the uploads being received at once are capped with the extractions.
   * @returns the function that gives the slot back (call it exactly once)
   * @throws 429 with Retry-After: the user's or the instance's slots are all taken
   */
  reserve(userId: number): () => void {
    const files = this.config.files;
    const mine = this.perUser.get(userId) ?? 0;
    if (this.active >= files.max_concurrent_extractions || mine >= files.max_concurrent_extractions_per_user) {
      const retryAfter = String(Math.ceil(files.extraction_timeout_ms / 1000));
      const detail =
        mine >= files.max_concurrent_extractions_per_user
          ? 'You already have a PDF being processed: wait for it to finish, then try again.'
          : 'Too many PDFs are being processed right now: try again in a few seconds.';
      throw new ProblemException(HttpStatus.TOO_MANY_REQUESTS, detail, {}, { 'Retry-After': retryAfter });
    }
    this.active++;
    this.perUser.set(userId, mine + 1);
    return () => {
      this.active--;
      const left = (this.perUser.get(userId) ?? 1) - 1;
      if (left > 0) this.perUser.set(userId, left);
      else this.perUser.delete(userId);
    };
  }

  private runChild(bytes: Buffer): Promise<ChildRun> {
    const { extraction_timeout_ms: timeoutMs, extraction_memory_mb: memoryMb, max_pages, max_text_chars } = this.config.files;
    const started = Date.now();
    const child = fork(WORKER, [], {
      execArgv: [
        `--max-old-space-size=${memoryMb}`,
        '--permission',
        `--allow-fs-read=${PDFJS_DIR}`,
        `--allow-fs-read=${WORKER}`,
      ],
      env: {},
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.running.add(child);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));

    return new Promise<ChildRun>((resolve) => {
      let answer: WorkerAnswer | undefined;
      let killedFor: ChildRun['killedFor'];
      let peakKb = 0;
      const kill = (why: 'time' | 'memory') => {
        // Once the answer is in, the child is only exiting: a budget passed now must not turn a success into a
        // failure (it is still killed, should it linger).
        if (answer) return void child.kill('SIGKILL');
        if (killedFor || child.exitCode !== null) return;
        killedFor = why;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(() => kill('time'), timeoutMs);
      const poll = setInterval(() => {
        readFile(`/proc/${child.pid}/status`, 'utf8').then(
          (status) => {
            const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
            peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0), rss);
            if (rss > memoryMb * 1024) kill('memory');
          },
          () => undefined, // gone already, or no /proc (then the heap flag and the timeout still hold)
        );
      }, MEMORY_POLL_MS);
      child.on('message', (m: unknown) => {
        if (!answer && !killedFor) answer = parseWorkerAnswer(m, max_text_chars);
      });
      child.on('error', (err) => this.logger.error(`PDF extraction process failed to start: ${err.message}`));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        clearInterval(poll);
        this.running.delete(child);
        const run: ChildRun = { answer, killedFor, exit: { code, signal }, elapsedMs: Date.now() - started, peakRssMb: Math.round(peakKb / 1024) };
        const outcome = answer ? (answer.ok ? 'ok' : answer.reason) : killedFor ? `killed (${killedFor} budget)` : `exit ${code ?? signal}`;
        this.logger.log(`PDF extraction: ${outcome} in ${run.elapsedMs} ms, peak RSS ${run.peakRssMb} MiB`);
        this.metrics?.extraction(answer ? (answer.ok ? 'ok' : answer.reason) : killedFor ? `killed_${killedFor}` : 'failed', run.elapsedMs / 1000);
        if (!answer && !killedFor && stderr) this.logger.warn(`PDF extraction process said: ${stderr.trim().slice(-500)}`);
        resolve(run);
      });
      child.send({ bytes, maxPages: max_pages, maxTextChars: max_text_chars }, (err) => {
        if (err) child.kill('SIGKILL'); // it died before reading: the exit handler answers
      });
    });
  }

  private interpret(run: ChildRun): ExtractedPdf {
    const { files } = this.config;
    if (run.killedFor === 'time') {
      throw unprocessable(`The PDF could not be processed within the time budget (${files.extraction_timeout_ms} ms); it was stopped.`);
    }
    if (run.killedFor === 'memory' || (!run.answer && run.exit.signal === 'SIGABRT')) {
      throw unprocessable(`The PDF needed more memory than the budget (${files.extraction_memory_mb} MiB) to process; it was stopped.`);
    }
    const answer = run.answer;
    if (!answer) throw unprocessable('The PDF could not be processed: the text extractor stopped unexpectedly.');
    if (!answer.ok) {
      switch (answer.reason) {
        case 'encrypted':
          throw unprocessable('The PDF is encrypted or password-protected: upload an unprotected copy.');
        case 'too_many_pages':
          throw unprocessable(`The PDF has ${answer.pageCount} pages; at most ${files.max_pages} are accepted.`);
        case 'corrupt':
          throw unprocessable('The file is not a readable PDF: it is damaged or incomplete.');
        default:
          throw unprocessable('The PDF could not be processed: its text could not be extracted.');
      }
    }
    if (!answer.text) {
      throw unprocessable('The PDF contains no extractable text (a scanned document? OCR is not supported).');
    }
    return { pageCount: answer.pageCount, text: answer.text, truncated: answer.truncated };
  }
}
