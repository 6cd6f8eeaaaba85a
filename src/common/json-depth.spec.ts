import { jsonDepth } from './json-depth';

const depth = (text: string, stopAbove?: number) => jsonDepth(Buffer.from(text, 'utf8'), stopAbove);

describe('jsonDepth', () => {
  it('counts arrays and objects alike', () => {
    expect(depth('1')).toBe(0);
    expect(depth('"text"')).toBe(0);
    expect(depth('[]')).toBe(1);
    expect(depth('{"a":[{"b":[1]}],"c":{}}')).toBe(4);
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    expect(depth('{"a":"[[[{{{"}')).toBe(1);
    expect(depth('{"a":"\\"[[[","b":[1]}')).toBe(2);
    expect(depth('["\\\\",[2]]')).toBe(2);
    expect(depth('{"ключ":"[[ü]]"}')).toBe(1);
  });

  it('counts 100,000 levels without recursion, and stops early when asked', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(depth(deep)).toBe(100_000);
    expect(depth(deep, 64)).toBe(65);
  });

  it('measures text that is not valid JSON without failing', () => {
    expect(depth('[[[')).toBe(3);
    expect(depth(']]][')).toBe(0);
  });
});
