'use strict';
/**
 * The PDF text extractor, run as a child process of the API (never inside it): pdf.js is not safe on hostile
 * files in the API process (README "Files"; a 1 MB compression bomb took 2.2 GB and 11 s), so the parent kills
 * this process when it passes its time or memory budget (see pdf-extraction.service.ts).
 *
 * Plain CommonJS JavaScript on purpose: the same file runs from `src/` under jest and ts-node and from `dist/`
 * (copied there as a nest-cli asset) under `npm start` and in the Docker image, with no compiler in between.
 *
 * Protocol (IPC, `serialization: 'advanced'`): the parent sends one message
 * `{ bytes: Uint8Array, maxPages: number, maxTextChars: number }`; the child answers with one message, either
 * `{ ok: true, pageCount, text, truncated }` (text without C0 controls but \t \n \r, nor lone surrogates) or
 * `{ ok: false, reason, pageCount?, message }` where reason is `encrypted`, `too_many_pages`, `corrupt` or
 * `failed`, then exits. The parent checks the answer's shape before using it.
 */

/**
 * C0 controls but tab, line feed and carriage return, and UTF-16 surrogates without their other half. A font's
 * ToUnicode map can turn any glyph into any of them, and PostgreSQL refuses U+0000 in text (a 500 on insert);
 * the others are noise at best. Matched on code units (no `u` flag), so a lone half is found.
 */
// eslint-disable-next-line no-control-regex -- matching these controls is the point
const UNWANTED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The first `max` UTF-16 code units of `text`, one fewer when the cut would split a surrogate pair. */
function cut(text, max) {
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/** Reads the page count (cheap: the page tree's /Count), checks the cap, then extracts page by page. */
async function extract({ bytes, maxPages, maxTextChars }) {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const task = pdfjs.getDocument({
    // pdf.js refuses Buffers; the copy also detaches the bytes from the IPC message.
    data: new Uint8Array(bytes),
    // No code generation from the file's fonts or functions, no system fonts, no network, errors only on stderr.
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    useWorkerFetch: false,
    isOffscreenCanvasSupported: false,
    verbosity: 0,
  });
  let doc;
  try {
    doc = await task.promise;
  } catch (err) {
    if (err && err.name === 'PasswordException') return { ok: false, reason: 'encrypted', message: err.message };
    return { ok: false, reason: 'corrupt', message: String((err && err.message) || err) };
  }
  const pageCount = doc.numPages;
  const { info } = await doc.getMetadata().catch(() => ({ info: {} }));
  // Encryption is refused even when pdf.js could open the file with the empty user password (PDF 32000-1 §7.6):
  // what an owner restricted should not be copied into a chat.
  if (info && info.EncryptFilterName) return { ok: false, reason: 'encrypted', pageCount, message: 'encrypted' };
  if (pageCount > maxPages) return { ok: false, reason: 'too_many_pages', pageCount, message: `${pageCount} pages` };

  let text = '';
  let truncated = false;
  for (let n = 1; n <= pageCount; n++) {
    const page = await doc.getPage(n);
    const content = await page.getTextContent();
    let pageText = '';
    for (const item of content.items) {
      if (typeof item.str !== 'string') continue;
      pageText += item.str + (item.hasEOL ? '\n' : '');
    }
    page.cleanup();
    text += (n > 1 ? '\n\n' : '') + pageText.replace(UNWANTED, '').trim();
    if (text.length > maxTextChars) {
      text = cut(text, maxTextChars);
      truncated = true;
      break;
    }
  }
  await task.destroy();
  return { ok: true, pageCount, text: text.trim(), truncated };
}

process.once('message', (job) => {
  extract(job)
    .catch((err) => ({ ok: false, reason: 'failed', message: String((err && err.message) || err) }))
    .then((result) => process.send(result, () => process.exit(0)));
});
