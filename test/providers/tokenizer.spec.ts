import { countChatTokens, countTokens, tokenCounterFor } from '../../src/providers/tokenizer';

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
