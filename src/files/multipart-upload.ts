import { HttpStatus } from '@nestjs/common';
import busboy from 'busboy';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { invalidField, ProblemException } from '../common/problem';

/** What one upload may hold (`limits.max_upload_bytes` and the `files` section of the configuration). */
export interface UploadLimits {
  /** Largest accepted file. */
  maxFileBytes: number;
  /** Parts of the multipart body, the file included. */
  maxParts: number;
  /** Bytes of the body besides the file: boundaries, part headers, the other parts. */
  maxOverheadBytes: number;
  /** After a refusal mid-body, how long the rest is still read and thrown away (see {@link linger}). */
  lingerMs: number;
}
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
 * can: a Content-Length beyond the limit before reading anything, a file beyond `maxFileBytes`, a body beyond
 * `maxFileBytes` + `maxOverheadBytes` (every byte counts, other parts too) or more than `maxParts` parts the
 * moment it gets there (413), and bytes that do not start like a PDF as soon as the first 1024 have arrived (415).
 * Other parts, fields and files alike, are skipped wherever they are, before or after `field`. The client's file
 * name and Content-Type are never trusted for the type: only the bytes are.
 * @returns the file, its cleaned name and SHA-256
 * @throws 413 too large or too many parts, 415 not multipart or not a PDF, 422 no such field, 400 malformed multipart
 */
export function receivePdf(req: IncomingMessage, field: string, limits: UploadLimits): Promise<ReceivedFile> {
  const { maxFileBytes: maxBytes, maxParts, maxOverheadBytes, lingerMs } = limits;
  const maxBody = maxBytes + maxOverheadBytes;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBody) {
    return Promise.reject(refuse(HttpStatus.PAYLOAD_TOO_LARGE, tooLarge(maxBytes, maxOverheadBytes)));
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
        // Only `parts` bounds the count: with a `files` or `fields` limit, busboy silently drops every later part of
        // that kind, the wanted file included. Skipped fields are cut at `fieldSize`; every byte counts below.
        // busboy says `partsLimit` once it has read `parts` parts, so one more than allowed is the refusal.
        limits: { fileSize: maxBytes, fieldSize: 1024, parts: maxParts + 1, headerPairs: 20 },
      });
    } catch {
      reject(refuse(HttpStatus.BAD_REQUEST, 'The multipart body is malformed (no boundary).'));
      return;
    }
    const countBody = (chunk: Buffer) => {
      bodySize += chunk.length;
      if (bodySize > maxBody) fail(refuse(HttpStatus.PAYLOAD_TOO_LARGE, tooLarge(maxBytes, maxOverheadBytes)));
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
      stream.on('limit', () => fail(refuse(HttpStatus.PAYLOAD_TOO_LARGE, tooLarge(maxBytes, maxOverheadBytes))));
    });
    parser.on('partsLimit', () =>
      fail(refuse(HttpStatus.PAYLOAD_TOO_LARGE, `The multipart body has more than ${maxParts} parts; send the PDF with fewer other fields.`)),
    );
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

function tooLarge(maxBytes: number, maxOverheadBytes: number): string {
  return (
    `The upload is over the ${maxBytes}-byte upload limit (MAX_UPLOAD_BYTES) for the file, ` +
    `plus ${maxOverheadBytes} bytes for the multipart framing and other parts.`
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
