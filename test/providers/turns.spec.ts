import { ModelProviderError } from '../../src/providers/model-provider';
import { argumentsObject, inlineImageOf, mergeTurns, ToolCallStream } from '../../src/providers/turns';

describe('mergeTurns', () => {
  it('joins the system turns, merges consecutive turns of one role and drops empty ones', () => {
    expect(
      mergeTurns([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi.' },
        { role: 'system', content: '' },
        { role: 'user', content: 'Still there?' },
        { role: 'assistant', content: '' },
        { role: 'system', content: 'Answer in French.' },
        { role: 'assistant', content: 'Oui.' },
      ]),
    ).toEqual({
      system: 'Be brief.\n\nAnswer in French.',
      turns: [
        { role: 'user', parts: [{ type: 'text', text: 'Hi.\n\nStill there?' }] },
        { role: 'assistant', parts: [{ type: 'text', text: 'Oui.' }] },
      ],
    });
  });

  it('gives an empty system text when there is none', () => {
    expect(mergeTurns([{ role: 'user', content: 'Hi.' }])).toEqual({ system: '', turns: [{ role: 'user', parts: [{ type: 'text', text: 'Hi.' }] }] });
  });

  it('keeps parts in order, turns tool turns into named tool results of one user turn, and drops nothing else', () => {
    const image = { type: 'image' as const, url: 'https://example.com/cat.png', width: 640, height: 480 };
    const { turns } = mergeTurns([
      { role: 'user', content: 'Weather here and there? And this:', parts: [{ type: 'text', text: 'Weather here and there? And this:' }, image] },
      {
        role: 'assistant',
        content: 'Looking.',
        parts: [
          { type: 'text', text: 'Looking.' },
          { type: 'tool_call', id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' },
          { type: 'tool_call', id: 'call_b', name: 'weather', arguments: '{"city":"Oslo"}' },
        ],
      },
      { role: 'tool', content: '{"temp":21}', toolCallId: 'call_a' },
      { role: 'tool', content: '', toolCallId: 'call_b' },
      { role: 'user', content: 'Thanks.' },
    ]);

    expect(turns).toEqual([
      { role: 'user', parts: [{ type: 'text', text: 'Weather here and there? And this:' }, image] },
      {
        role: 'assistant',
        parts: [
          { type: 'text', text: 'Looking.' },
          { type: 'tool_call', id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' },
          { type: 'tool_call', id: 'call_b', name: 'weather', arguments: '{"city":"Oslo"}' },
        ],
      },
      {
        role: 'user',
        parts: [
          { type: 'tool_result', toolCallId: 'call_a', name: 'weather', content: '{"temp":21}' },
          { type: 'tool_result', toolCallId: 'call_b', name: 'weather', content: '' },
          { type: 'text', text: 'Thanks.' },
        ],
      },
    ]);
  });

  it('leaves the name of a result whose call is not in the conversation unset', () => {
    expect(mergeTurns([{ role: 'tool', content: 'ok', toolCallId: 'call_gone' }]).turns).toEqual([
      { role: 'user', parts: [{ type: 'tool_result', toolCallId: 'call_gone', name: undefined, content: 'ok' }] },
    ]);
  });

  it('refuses a tool turn that names no call', () => {
    expect(() => mergeTurns([{ role: 'tool', content: 'ok' }])).toThrow(ModelProviderError);
  });
});

describe('inlineImageOf', () => {
  it('splits a base64 data: URL into its media type and data, and leaves other URLs alone', () => {
    expect(inlineImageOf('data:image/PNG;base64,iVBORw0KGgo=')).toEqual({ mediaType: 'image/png', data: 'iVBORw0KGgo=' });
    expect(inlineImageOf('data:image/jpeg;name=a.jpg;base64,/9j/4AAQ')).toEqual({ mediaType: 'image/jpeg', data: '/9j/4AAQ' });
    expect(inlineImageOf('https://example.com/a.png')).toBeUndefined();
  });

  it.each(['data:image/png,rawbytes', 'data:image/svg+xml;base64,PHN2Zz4=', 'data:;base64,AAAA'])('refuses %s as bad_request', (url) => {
    expect(() => inlineImageOf(url)).toThrow(expect.objectContaining({ kind: 'bad_request' }));
  });
});

describe('argumentsObject', () => {
  it('parses a JSON object and gives {} for anything else', () => {
    expect(argumentsObject('{"a":[1,{"b":null}]}')).toEqual({ a: [1, { b: null }] });
    expect(argumentsObject('[1]')).toEqual({});
    expect(argumentsObject('{"cut": "sho')).toEqual({});
    expect(argumentsObject('')).toEqual({});
  });
});

describe('ToolCallStream', () => {
  it('assembles calls by key in the order they began, ids and names from their first piece', () => {
    const calls = new ToolCallStream();

    const deltas = [
      calls.piece(0, { id: 'call_a', name: 'weather', arguments: '' }),
      calls.piece(0, { arguments: '{"city":' }),
      calls.piece(1, { id: 'call_b', name: 'time', arguments: '{"tz":"UTC"}' }),
      calls.piece(0, { arguments: '"Paris"}' }),
      calls.piece(2, { name: 'ping' }),
      ...calls.end(),
    ];

    expect(deltas).toEqual([
      { type: 'tool_call_delta', index: 0, id: 'call_a', name: 'weather', arguments: '' },
      { type: 'tool_call_delta', index: 0, arguments: '{"city":' },
      { type: 'tool_call_delta', index: 1, id: 'call_b', name: 'time', arguments: '{"tz":"UTC"}' },
      { type: 'tool_call_delta', index: 0, arguments: '"Paris"}' },
      { type: 'tool_call_delta', index: 2, id: expect.stringMatching(/^call_2_[0-9a-f]{12}$/), name: 'ping', arguments: '' },
      { type: 'tool_call_delta', index: 2, arguments: '{}' },
    ]);
    expect(calls.all).toEqual([
      { type: 'tool_call', id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' },
      { type: 'tool_call', id: 'call_b', name: 'time', arguments: '{"tz":"UTC"}' },
      { type: 'tool_call', id: deltas[4].id, name: 'ping', arguments: '{}' },
    ]);
  });
});
