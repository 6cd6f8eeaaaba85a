import { countChatTokens, countTokens } from '../../src/providers/tokenizer';

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
