import { HttpStatus } from '@nestjs/common';
import busboy from 'busboy';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { invalidField, ProblemException } from '../common/problem';

/** Room for the multipart framing (boundaries, part headers, other small fields) around the file in a request. */
const MULTIPART_OVERHEAD_BYTES = 16 * 1024;
/** PDF 32000-1 §7.5.2 and its implementation notes: readers look for `%PDF-` within the first 1024 bytes. */
const PDF_HEADER = Buffer.from('%PDF-', 'latin1');
const HEADER_WINDOW = 1024;

/** The one file of an upload, whole in memory (at most `maxBytes`). */
export interface ReceivedFile {
  /** The client's name for it, cleaned by {@link cleanFilename}. */
  filename: string;
  bytes: Buffer;
  /** Lower-case hex SHA-256 of `bytes`. */
  sha256: string;
}

/**
 * A refusal sent while the client may still be sending: `Connection: close` makes Node close the socket once the
 * answer is out, so the rest of the body is neither read nor buffered.
 */
const refuse = (status: HttpStatus, detail: string) => new ProblemException(status, detail, {}, { Connection: 'close' });

/**
 * Reads the `field` file of a `multipart/form-data` request as it streams in (busboy), refusing as early as it
 * can: a Content-Length beyond the limit before reading anything, a file beyond `maxBytes` or a body beyond
 * `maxBytes` + {@link MULTIPART_OVERHEAD_BYTES} (every byte counts, other parts too) the moment it gets there
 * (413), and bytes that do not start like a PDF as soon as the first 1024 have arrived (415). Other file parts are
 * skipped, before or after `field`. The client's file name and Content-Type are never trusted for the type: only
 * the bytes are.
 * @param maxBytes largest accepted file (`limits.max_upload_bytes`)
 * @param lingerMs after a refusal mid-body, how long the rest is still read and thrown away (see {@link linger})
 * @returns the file, its cleaned name and SHA-256
 * @throws 413 too large, 415 not multipart or not a PDF, 422 no such field, 400 malformed multipart
 */
export function receivePdf(req: IncomingMessage, field: string, maxBytes: number, lingerMs: number): Promise<ReceivedFile> {
  const maxBody = maxBytes + MULTIPART_OVERHEAD_BYTES;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBody) {
    return Promise.reject(refuse(HttpStatus.PAYLOAD_TOO_LARGE, tooLarge(maxBytes)));
  }
  if (!/^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '')) {
    return Promise.reject(
      refuse(HttpStatus.UNSUPPORTED_MEDIA_TYPE, `Send the PDF as multipart/form-data in a field named "${field}".`),
    );
  }

  return new Promise<ReceivedFile>((resolve, reject) => {
    let settled = false;
    let found: Omit<ReceivedFile, 'bytes' | 'sha256'> | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let bodySize = 0;
    let headerChecked = false;
    const hash = createHash('sha256');

    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        // No `files` limit: with one, busboy ignores the `field` part when another file part came first. Skipped
        // parts are bounded by the count of the whole body below.
        limits: { fileSize: maxBytes, fields: 20, fieldSize: 1024, parts: 25, headerPairs: 20 },
      });
    } catch {
      reject(refuse(HttpStatus.BAD_REQUEST, 'The multipart body is malformed (no boundary).'));
      return;
    }
    const countBody = (chunk: Buffer) => {
      bodySize += chunk.length;
      if (bodySize > maxBody) fail(refuse(HttpStatus.PAYLOAD_TOO_LARGE, tooLarge(maxBytes)));
    };
    const fail = (err: ProblemException) => {
      if (settled) return;
      settled = true;
      req.off('data', countBody);
      req.unpipe(parser);
      parser.removeAllListeners();
      parser.on('error', () => undefined);
      linger(req, lingerMs);
      reject(err);
    };
    const looksLikePdf = () => Buffer.concat(chunks).subarray(0, HEADER_WINDOW).includes(PDF_HEADER);
    const notPdf = () => refuse(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'Only PDF files are accepted: this file does not start like a PDF.');

    parser.on('file', (name, stream, info) => {
      if (name !== field || found) {
        stream.resume(); // another field's file, or a second one: skipped (its bytes count towards the body)
        return;
      }
      found = { filename: cleanFilename(info.filename) };
      stream.on('data', (chunk: Buffer) => {
        if (settled) return;
        chunks.push(chunk);
        size += chunk.length;
        hash.update(chunk);
        if (!headerChecked && size >= HEADER_WINDOW) {
          headerChecked = true;
          if (!looksLikePdf()) fail(notPdf());
        }
      });
      stream.on('limit', () => fail(refuse(HttpStatus.PAYLOAD_TOO_LARGE, tooLarge(maxBytes))));
    });
    parser.on('error', () => fail(refuse(HttpStatus.BAD_REQUEST, 'The multipart body is malformed.')));
    parser.on('close', () => {
      if (settled) return;
      if (!found) return fail(invalidField(field, 'a PDF file is required in this multipart field'));
      if (!size) return fail(invalidField(field, 'the file is empty'));
      if (!headerChecked && !looksLikePdf()) return fail(notPdf());
      settled = true;
      resolve({ ...found, bytes: Buffer.concat(chunks, size), sha256: hash.digest('hex') });
    });
    // A client that goes away mid-body: nothing was stored, nobody to answer.
    req.on('close', () => {
      if (!req.complete) fail(refuse(HttpStatus.BAD_REQUEST, 'The upload was interrupted.'));
    });
    req.on('data', countBody);
    req.pipe(parser);
  });
}

/**
 * A "lingering close" (RFC 9112 §9.6) for a refusal sent while the client is still sending: closing a socket with
 * unread bytes makes TCP reset the connection, which can destroy the answer before the client reads it (curl says
 * "broken pipe" instead of showing the 413). So once the answer is out, only our side is closed, and what still
 * arrives is read and thrown away until the client closes, at most `lingerMs`.
 */
function linger(req: IncomingMessage, lingerMs: number): void {
  const socket = req.socket;
  socket.destroySoon = () => {
    socket.end();
    setTimeout(() => socket.destroy(), lingerMs).unref();
  };
  req.resume();
}

function tooLarge(maxBytes: number): string {
  return (
    `The upload is over the ${maxBytes}-byte upload limit (MAX_UPLOAD_BYTES) for the file, ` +
    `plus ${MULTIPART_OVERHEAD_BYTES} bytes for the multipart framing.`
  );
}

/**
 * A client file name made safe to store and show: no folders (`a/b\c.pdf` → `c.pdf`), no control or
 * bidirectional-override characters, at most 255 characters; `document.pdf` when nothing is left.
 */
function cleanFilename(name: string | undefined): string {
  const base = (name ?? '').split(/[/\\]/).pop() ?? '';
  const clean = base
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .trim()
    .replace(/^\.+/, '');
  return [...clean].slice(0, 255).join('') || 'document.pdf';
}
