import { CandidateMessage } from './context-builder';
import { exchangeEnd, summaryText } from './summaries.service';

const call = (id: string) => ({ type: 'tool_call' as const, id, name: 'get_weather', arguments: '{"city":"Paris"}' });

describe('summaryText', () => {
  it('describes tool calls, tool results and images in text, never with the image data', () => {
    expect(
      summaryText({
        role: 'user',
        content: 'What is this?',
        parts: [
          { type: 'text', text: 'What is this?' },
          { type: 'image', url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==', media_type: 'image/png', width: 640, height: 480 },
          { type: 'image', url: 'https://example.com/cat.jpg' },
        ],
      }),
    ).toBe('What is this?\n[image: image/png 640×480]\n[image: unknown type size unknown]');
    expect(summaryText({ role: 'assistant', content: 'Looking.', parts: [{ type: 'text', text: 'Looking.' }, call('a')] })).toBe(
      'Looking.\n[called tool get_weather with {"city":"Paris"}]',
    );
    expect(summaryText({ role: 'tool', content: '{"temperature":21}', parts: [{ type: 'text', text: '{"temperature":21}' }] })).toBe(
      '[tool result: {"temperature":21}]',
    );
    expect(summaryText({ role: 'user', content: 'plain' })).toBe('plain');
  });
});

describe('exchangeEnd', () => {
  const m = (role: CandidateMessage['role'], calls = 0): CandidateMessage => ({
    id: 1,
    role,
    content: '',
    parts: Array.from({ length: calls }, (_, i) => call(`c${i}`)),
  });

  it('ends a summary before a tool exchange that is not over', () => {
    expect(exchangeEnd([m('user'), m('assistant')])).toBe(2);
    expect(exchangeEnd([m('user'), m('assistant', 1)])).toBe(1);
    expect(exchangeEnd([m('user'), m('assistant', 2), m('tool'), m('tool')])).toBe(1);
    expect(exchangeEnd([m('user'), m('assistant', 1), m('tool'), m('assistant'), m('user')])).toBe(5);
    expect(exchangeEnd([m('assistant', 1), m('tool')])).toBe(0);
    expect(exchangeEnd([])).toBe(0);
  });
});
