// Streams one answer from the app through the Vercel AI SDK's OpenAI-compatible provider (`ai` and
// `@ai-sdk/openai-compatible` are ESM-only, so this runs as its own Node process). Reads BASE_URL, API_KEY and
// MODEL; prints one JSON line: the pieces as they came, the finish reason and the usage the SDK reports.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { streamText } from 'ai';

const provider = createOpenAICompatible({
  name: 'chat-backend',
  baseURL: `${process.env.BASE_URL}/v1`,
  apiKey: process.env.API_KEY,
  includeUsage: true,
});
const errors = [];
const result = streamText({
  model: provider.chatModel(process.env.MODEL),
  system: 'Be brief.',
  prompt: 'Say hello.',
  maxRetries: 0,
  onError: ({ error }) => errors.push(String(error?.message ?? error)),
});
const pieces = [];
for await (const piece of result.textStream) pieces.push(piece);
const usage = await result.usage;
console.log(JSON.stringify({ pieces, finishReason: await result.finishReason, usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens }, errors }));
