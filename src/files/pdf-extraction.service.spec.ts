import { parseWorkerAnswer } from './pdf-extraction.service';

describe('parseWorkerAnswer', () => {
  const failed = { ok: false, reason: 'failed' };

  it('passes well-formed answers through, keeping only the known fields', () => {
    expect(parseWorkerAnswer({ ok: true, pageCount: 3, text: 'abc', truncated: false, extra: 1 }, 10)).toEqual({
      ok: true,
      pageCount: 3,
      text: 'abc',
      truncated: false,
    });
    expect(parseWorkerAnswer({ ok: false, reason: 'too_many_pages', pageCount: 900, message: 'x' }, 10)).toEqual({
      ok: false,
      reason: 'too_many_pages',
      pageCount: 900,
    });
    expect(parseWorkerAnswer({ ok: false, reason: 'encrypted' }, 10)).toEqual({ ok: false, reason: 'encrypted' });
  });

  it.each([
    ['not an object', 'ok'],
    ['null', null],
    ['text too long', { ok: true, pageCount: 1, text: 'x'.repeat(11), truncated: true }],
    ['text not a string', { ok: true, pageCount: 1, text: ['x'], truncated: false }],
    ['text with U+0000', { ok: true, pageCount: 1, text: 'a\u0000b', truncated: false }],
    ['negative page count', { ok: true, pageCount: -1, text: 'x', truncated: false }],
    ['fractional page count', { ok: true, pageCount: 1.5, text: 'x', truncated: false }],
    ['truncated not a boolean', { ok: true, pageCount: 1, text: 'x', truncated: 'no' }],
    ['an unknown failure kind', { ok: false, reason: 'exploded' }],
    ['too_many_pages without a count', { ok: false, reason: 'too_many_pages', pageCount: '9' }],
    ['ok neither true nor false', { ok: 1, pageCount: 1, text: 'x', truncated: false }],
  ])('%s is a failed extraction', (_name, answer) => {
    expect(parseWorkerAnswer(answer, 10)).toEqual(failed);
  });
});
