/**
 * Snippets of matching text, as PostgreSQL's `ts_headline` cuts them (PostgreSQL docs, "Highlighting Results",
 * §12.3.4), turned into HTML that is safe to insert as it is: the text escaped, the matched words in
 * `<mark>…</mark>`.
 */

/** Put by `ts_headline` before a matched word; control characters no text shown to users needs. */
export const MATCH_START = '\u0001';
/** Put by `ts_headline` after a matched word. */
export const MATCH_STOP = '\u0002';
/** Removed from the text before `ts_headline` marks it, so the text can't forge a marker. */
export const MARKER_CHARACTERS = MATCH_START + MATCH_STOP;

/**
 * `ts_headline`'s options: the markers above, fragments of at most `maxWords` words (at least half that), up to
 * `fragments` of them joined with " … " (0: one stretch of text around the best match).
 */
export function headlineOptions(maxWords: number, fragments: number): string {
  const minWords = Math.max(1, Math.floor(maxWords / 2));
  return `StartSel=${MATCH_START}, StopSel=${MATCH_STOP}, MaxWords=${maxWords}, MinWords=${minWords}, ShortWord=0, MaxFragments=${fragments}, FragmentDelimiter=" … "`;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * @param headline what `ts_headline` returned with {@link headlineOptions}
 * @returns the same text as an HTML fragment: `& < > " '` escaped, each match wrapped in `<mark>…</mark>`
 */
export function snippetHtml(headline: string): string {
  return headline
    .replace(/[&<>"']/g, (c) => ESCAPES[c])
    .replaceAll(MATCH_START, '<mark>')
    .replaceAll(MATCH_STOP, '</mark>');
}
