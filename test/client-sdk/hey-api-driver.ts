/**
 * A program written against the TypeScript client that @hey-api/openapi-ts generates from the committed
 * `openapi.json` (into `./client`, next to this file, at test time). It is compiled with `strict` and no casts:
 * if the document types a request or an answer wrongly, this file stops compiling or a check below fails.
 *
 * Environment: `BASE_URL` of a running app, `PDF_PATH` of a PDF to upload. Prints one JSON line per step; exits 1
 * on the first failed check.
 */
import { readFileSync } from 'node:fs';
import { client } from './client/client.gen';
import {
  createPrompt,
  createSession,
  deleteSession,
  getChatHistory,
  getSession,
  listModels,
  login,
  previewPrompt,
  register,
  sendMessage,
  switchModel,
  uploadFile,
} from './client/sdk.gen';
import type {
  ProblemDetails,
  SendMessageDto,
  StreamDeltaEventDto,
  StreamDoneEventDto,
  StreamStartEventDto,
} from './client/types.gen';

/** One typed event of `POST /v1/chat/stream` with `stream_format: "events"`. */
type TurnEvent =
  | { event: 'start'; data: StreamStartEventDto }
  | { event: 'delta'; data: StreamDeltaEventDto }
  | { event: 'done'; data: StreamDoneEventDto }
  | { event: 'error'; data: ProblemDetails };

/**
 * Streams one turn as typed events, through the generated client's own SSE reader (`client.sse`), which
 * yields each event's parsed `data`; the event name arrives just before it through `onSseEvent`.
 */
async function* streamTurn(body: SendMessageDto): AsyncGenerator<TurnEvent> {
  let name: string | undefined;
  const { stream } = await client.sse.post({
    url: '/v1/chat/stream',
    security: [{ scheme: 'bearer', type: 'http' }],
    headers: { 'Content-Type': 'application/json' },
    body: { ...body, stream: true, stream_format: 'events' } satisfies SendMessageDto,
    sseMaxRetryAttempts: 1,
    onSseEvent: (e) => (name = e.event),
  });
  for await (const data of stream) {
    if (name === 'start') yield { event: 'start', data: data as StreamStartEventDto };
    else if (name === 'delta') yield { event: 'delta', data: data as StreamDeltaEventDto };
    else if (name === 'done') yield { event: 'done', data: data as StreamDoneEventDto };
    else if (name === 'error') yield { event: 'error', data: data as ProblemDetails };
  }
}

function check(condition: boolean, what: string, detail?: unknown): void {
  if (!condition) {
    console.error(JSON.stringify({ failed: what, detail }));
    process.exit(1);
  }
}

function report(step: string, facts: Record<string, unknown>): void {
  console.log(JSON.stringify({ step, ...facts }));
}

async function main(): Promise<void> {
  client.setConfig({ baseUrl: process.env.BASE_URL! });
  const email = `sdk-${Date.now()}@example.com`;
  const password = 'correct horse battery';

  const registered = await register({ body: { email, password } });
  check(!!registered.data, 'register', registered.error);
  const token = registered.data!.access_token;
  client.setConfig({ auth: () => token });
  report('register', { status: registered.response?.status, token_type: registered.data!.token_type });

  // A wrong password: the error is typed (ProblemDetails), not `unknown`.
  const wrong = await login({ body: { email, password: 'not the password' } });
  if (wrong.error) {
    const problem: ProblemDetails = wrong.error;
    report('wrong-password', { status: wrong.response?.status, problem_status: problem.status, detail: problem.detail });
  } else {
    check(false, 'login with a wrong password must fail');
  }

  const models = await listModels();
  check(models.data?.object === 'list', 'models', models.error);
  report('models', { object: models.data!.object, first: models.data!.data[0].id });

  const session = await createSession({ body: { title: 'From the generated client' } });
  check(!!session.data, 'create session', session.error);
  const sessionId = session.data!.id;
  report('session', { id: sessionId, model: session.data!.model });

  // The documented request, without the defaulted fields (temperature, stream): they are optional.
  const sent = await sendMessage({ body: { session_id: sessionId, messages: [{ role: 'user', content: 'Hello there' }], stream: false } });
  // 200 is the answer; 202 (only with `background: true`) would be its ids: `in` tells the two apart.
  const answer = sent.data;
  if (!answer || !('output_text' in answer)) return check(false, 'send (stream: false)', sent.error ?? answer);
  report('send', {
    session_header: sent.response?.headers.get('X-Session-Id'),
    output_text: answer.output_text,
    finish_reason: answer.finish_reason,
    total_tokens: answer.usage.total_tokens,
  });

  let text = '';
  const events: string[] = [];
  let done: StreamDoneEventDto | undefined;
  for await (const e of streamTurn({ session_id: sessionId, messages: [{ role: 'user', content: 'Tell me more' }] })) {
    events.push(e.event);
    if (e.event === 'delta') text += e.data.text;
    if (e.event === 'done') done = e.data;
    check(e.event !== 'error', 'stream error event', e.data);
  }
  check(!!done, 'stream done event');
  report('stream', { events: [...new Set(events)], text, finish_reason: done!.finish_reason, message_id: done!.message_id });

  const history = await getChatHistory({ query: { page_size: 10 } });
  check(!!history.data, 'history', history.error);
  const mine = history.data!.sessions.find((s) => s.id === sessionId);
  report('history', { total: history.data!.total, messages: mine?.messages.length, roles: mine?.messages.map((m) => m.role) });

  const pdf = new Blob([readFileSync(process.env.PDF_PATH!)], { type: 'application/pdf' });
  const uploaded = await uploadFile({ path: { session_id: sessionId }, body: { file: pdf } });
  check(!!uploaded.data, 'upload', uploaded.error);
  report('upload', { status: uploaded.response?.status, page_count: uploaded.data!.file.metadata.page_count });

  const prompt = await createPrompt({ body: { title: 'Summariser', content: 'Summarize: {text}' } });
  check(!!prompt.data, 'create prompt', prompt.error);
  const preview = await previewPrompt({ body: { prompt_id: prompt.data!.id, variables: { text: 'short' }, dry_run: true } });
  check(!!preview.data, 'preview prompt', preview.error);
  report('prompts', { variables: prompt.data!.variables, preview: preview.data!.preview });

  const switched = await switchModel({ body: { session_id: sessionId, model: 'gpt-3.5-turbo' } });
  check(!!switched.data, 'switch model', switched.error);
  report('switch-model', { model: switched.data!.model });

  const deleted = await deleteSession({ path: { session_id: sessionId } });
  check(!!deleted.data, 'delete session', deleted.error);
  const gone = await getSession({ path: { session_id: sessionId } });
  const notFound: ProblemDetails | undefined = gone.error;
  report('delete', { message: deleted.data!.message, then: gone.response?.status, problem_status: notFound?.status });
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ failed: 'unexpected', detail: String(err) }));
  process.exit(1);
});
