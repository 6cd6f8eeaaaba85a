/**
 * `npm run bench:context`: how long the context builder takes to fit a long session into a model's window.
 *
 * Builds the context of a 1,000-message session (about 210 tokens a message) for an 8k, a 128k and a 1M window,
 * and once more for a 128k window with a 360,000-character document, with the real o200k tokenizer — the work
 * every send and every `GET /v1/chat/sessions/{id}/context` does after loading the rows. Prints the median and
 * p95 per build over BENCH_BUILDS runs (default 30) after 3 warm-up builds, and the messages kept.
 */
import { performance } from 'node:perf_hooks';
import { buildContext, CandidateMessage, ContextDocument } from '../src/context/context-builder';
import { tokenCounterFor } from '../src/providers/tokenizer';

const BUILDS = Number(process.env.BENCH_BUILDS ?? 30);
const counter = tokenCounterFor({ provider: 'openai', upstreamModel: 'gpt-4o-mini' }, 1);

const sentence = 'The quick brown fox jumps over the lazy dog while the committee reviews quarterly numbers. ';
const messages: CandidateMessage[] = Array.from({ length: 1000 }, (_, i) => ({
  id: i + 1,
  role: i % 2 === 0 ? 'user' : 'assistant',
  content: `${i}: ${sentence.repeat(11)}`,
}));
const longDocument: ContextDocument = { name: 'report.pdf', text: sentence.repeat(4000) };

function measure(label: string, contextWindow: number, documents: ContextDocument[]): void {
  const build = () =>
    buildContext({
      systemPrompt: 'You are a helpful assistant.',
      summary: null,
      documents,
      messages,
      contextWindow,
      reservedOutput: Math.min(16_384, Math.floor(contextWindow / 4)),
      safetyMargin: 256,
      documentsBudget: 8000,
      counter,
      requireNewest: true,
    });
  for (let i = 0; i < 3; i++) build();
  const times: number[] = [];
  let kept = 0;
  for (let i = 0; i < BUILDS; i++) {
    const start = performance.now();
    kept = build().turns.filter((t) => t.part === 'message').length;
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2);
  console.log(`${label.padEnd(34)} p50 ${at(0.5).padStart(7)} ms   p95 ${at(0.95).padStart(7)} ms   messages kept ${kept}`);
}

console.log(`context builder, 1,000 messages of ~${counter.count(messages[0].content)} tokens, ${BUILDS} builds each`);
measure('8k window (gpt-4)', 8_192, []);
measure('128k window (gpt-4o-mini)', 128_000, []);
measure('1M window (gpt-4.1)', 1_047_576, []);
measure('128k window + 360k-char document', 128_000, [longDocument]);
console.log(`RSS ${Math.round(process.memoryUsage().rss / 1024 / 1024)} MB`);
