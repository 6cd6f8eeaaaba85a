import {
  countChatTokens,
  countTokens,
  estimatedUsage,
  imagePartTokens,
  imageTokens,
  PER_MESSAGE_OVERHEAD,
  tokenCounterFor,
  UNSIZED_IMAGE,
} from '../../src/providers/tokenizer';

describe('tokenizer', () => {
  it('counts o200k_base tokens', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('hello world')).toBe(2);
  });

  it('counts special-token markers in user text as plain text instead of throwing', () => {
    expect(countTokens('a <|endoftext|> b')).toBeGreaterThan(3);
  });

  it('adds 3 tokens per message and 3 for the reply to role and content tokens', () => {
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'hello world' },
    ];
    const expected = 3 + (3 + countTokens('system') + countTokens('Be brief.')) + (3 + countTokens('user') + 2);

    expect(countChatTokens(messages)).toBe(expected);
    expect(countChatTokens([])).toBe(3);
  });
});

describe('token counters', () => {
  it('count a request as its turns in a context plus the reply priming, for every family alike', () => {
    const turns = [{ role: 'user' as const, content: 'hello world' }];
    for (const model of [{ provider: 'openai', upstreamModel: 'gpt-4o' }, { provider: 'groq', upstreamModel: 'llama-3.3-70b' }]) {
      const counter = tokenCounterFor(model, 1.25);
      expect(counter.countRequest(turns)).toBe(counter.countTurns(turns) + 3);
    }
    // The adapters' estimate for a provider that reports no usage is the same count.
    expect(countChatTokens(turns)).toBe(tokenCounterFor({ provider: 'openai', upstreamModel: 'gpt-4o' }, 1.25).countRequest(turns));
  });
});

describe('image tokens', () => {
  // OpenAI "Images and vision" → "Calculating costs": the worked examples.
  it.each([
    [1024, 1024, 'high', 765],
    [2048, 4096, 'high', 1105],
    [4096, 8192, 'low', 85],
    [1024, 1024, 'auto', 765],
    [512, 512, undefined, 255],
    [100, 100, undefined, 255],
  ] as const)('openai: %ix%i at %s detail costs %i', (width, height, detail, tokens) => {
    expect(imageTokens('openai', width, height, detail)).toBe(tokens);
  });

  // Anthropic "Vision" → "Calculate image costs": the table of examples, and the ~1,600-token ceiling.
  it.each([
    [200, 200, 54],
    [1000, 1000, 1334],
    [1092, 1092, 1590],
    [3000, 2000, 1600],
    [1568, 100, 210],
    [3136, 200, 210],
  ])('anthropic: %ix%i costs %i', (width, height, tokens) => {
    expect(imageTokens('anthropic', width, height, 'low')).toBe(tokens);
  });

  // Gemini API "Understand and count tokens": 258 up to 384×384, else 258 per 768×768 tile.
  it.each([
    [384, 384, 258],
    [200, 100, 258],
    [385, 200, 258],
    [600, 400, 258],
    [1024, 768, 516],
    [1920, 1080, 1548],
  ])('gemini: %ix%i costs %i', (width, height, tokens) => {
    expect(imageTokens('gemini', width, height)).toBe(tokens);
  });

  it('counts an image of unknown size as 1024×1024', () => {
    const image = { type: 'image' as const, url: 'https://example.com/a.png' };
    expect(imagePartTokens('openai', image)).toBe(765);
    expect(imagePartTokens('openai', { ...image, detail: 'low' })).toBe(85);
    expect(imagePartTokens('anthropic', image)).toBe(imageTokens('anthropic', UNSIZED_IMAGE.width, UNSIZED_IMAGE.height));
    expect(imagePartTokens('gemini', image)).toBe(1032);
  });
});

describe('turn counting with parts', () => {
  const image = { type: 'image' as const, url: 'data:image/png;base64,AAAA', media_type: 'image/png' as const, width: 1024, height: 1024 };
  const call = { type: 'tool_call' as const, id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' };
  const turns = [
    { role: 'user' as const, content: 'What is this?', parts: [{ type: 'text' as const, text: 'What is this?' }, image] },
    { role: 'assistant' as const, content: '', parts: [call] },
    { role: 'tool' as const, content: '{"temp":21}', toolCallId: 'call_1' },
  ];

  it("adds each image by the counter's protocol and each tool call's name and arguments to the text", () => {
    const text = countTokens('What is this?') + countTokens('{"temp":21}') + 3 * PER_MESSAGE_OVERHEAD;
    const calls = countTokens('get_weather') + countTokens('{"city":"Paris"}');
    for (const [protocol, imageCost] of [['openai', 765], ['anthropic', 1399], ['gemini', 1032]] as const) {
      const counter = tokenCounterFor({ provider: 'openai', upstreamModel: 'gpt-4o', protocol }, 1.25);
      expect(counter.countImage(image)).toBe(imageCost);
      expect(counter.countTurns(turns)).toBe(text + calls + imageCost);
    }
  });

  it('counts the tool definitions of a request as their JSON text, and estimates usage with images and calls', () => {
    const tools = [{ name: 'get_weather', description: 'Weather of a city.', parameters: { type: 'object', properties: { city: { type: 'string' } } } }];
    const counter = tokenCounterFor({ provider: 'openai', upstreamModel: 'gpt-4o' }, 1.25);

    expect(counter.countRequest(turns, tools)).toBe(counter.countRequest(turns) + countTokens(JSON.stringify(tools)));
    expect(countChatTokens(turns, tools)).toBe(counter.countRequest(turns, tools));
    expect(estimatedUsage({ messages: turns, tools }, 'Sunny.', 'gemini', [call])).toEqual({
      inputTokens: tokenCounterFor({ provider: 'openai', upstreamModel: 'gpt-4o', protocol: 'gemini' }, 1).countRequest(turns, tools),
      outputTokens: countTokens('Sunny.') + countTokens('get_weather') + countTokens('{"city":"Paris"}'),
      estimated: true,
    });
  });

  it('counts the estimated families with the factor, images at their protocol cost', () => {
    const llama = tokenCounterFor({ provider: 'groq', upstreamModel: 'llama-3.3-70b', protocol: 'openai' }, 1.25);
    expect(llama.countTurns([turns[0]])).toBe(Math.ceil(countTokens('What is this?') * 1.25) + PER_MESSAGE_OVERHEAD + 765);
  });
});
