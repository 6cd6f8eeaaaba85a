import { cleanTitle, titleFrom } from './session-titles.service';

describe('titleFrom', () => {
  it('keeps a short first message whole, on one line', () => {
    expect(titleFrom('  Tell me\n a story ')).toBe('Tell me a story');
  });

  it('cuts a long one at a word boundary with an ellipsis', () => {
    const title = titleFrom('word '.repeat(40));
    expect(title.endsWith('…')).toBe(true);
    expect(title.length).toBeLessThanOrEqual(61);
    expect(title).not.toContain('  ');
  });
});

describe('cleanTitle', () => {
  it('keeps the first line of a model\'s answer without label, quotes or final period', () => {
    expect(cleanTitle('\n  Title: "Planning a trip to Lisbon."\nMore text')).toBe('Planning a trip to Lisbon');
    expect(cleanTitle('“Rust lifetimes”')).toBe('Rust lifetimes');
    expect(cleanTitle('   \n ')).toBe('');
  });
});
