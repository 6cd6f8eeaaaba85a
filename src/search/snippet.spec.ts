import { headlineOptions, MATCH_START, MATCH_STOP, snippetHtml } from './snippet';

describe('snippetHtml', () => {
  it('escapes the text and turns the markers into <mark> elements', () => {
    const headline = `<img src=x onerror="alert('1')"> & ${MATCH_START}keeper${MATCH_STOP} lit the ${MATCH_START}lamp${MATCH_STOP}`;
    expect(snippetHtml(headline)).toBe(
      '&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt; &amp; <mark>keeper</mark> lit the <mark>lamp</mark>',
    );
  });

  it('leaves text without markers as escaped text', () => {
    expect(snippetHtml('a < b')).toBe('a &lt; b');
  });
});

describe('headlineOptions', () => {
  it('keeps MinWords below MaxWords, as ts_headline requires', () => {
    expect(headlineOptions(2, 0)).toContain('MaxWords=2, MinWords=1,');
    expect(headlineOptions(30, 2)).toContain('MaxWords=30, MinWords=15,');
  });
});
