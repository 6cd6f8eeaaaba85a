import { PDFDocument, StandardFonts } from 'pdf-lib';
import { createDeflate } from 'node:zlib';

/**
 * PDFs for the upload tests, made on the spot: ordinary ones with pdf-lib, hostile ones written by hand
 * (PDF 32000-1 §7.5: header, numbered objects, a cross-reference table with byte offsets, a trailer).
 */

/** A PDF whose page `n` (from 1) reads `pageTexts[n - 1]`, in Helvetica. */
export async function textPdf(pageTexts: string[]): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const text of pageTexts) {
    const page = doc.addPage([612, 792]);
    text.split('\n').forEach((line, i) => page.drawText(line, { x: 50, y: 740 - i * 16, size: 12, font }));
  }
  return Buffer.from(await doc.save());
}

/** An object body per object number 1..n (object 1 is the catalog); `trailerExtra` is added to the trailer. */
export function handWrittenPdf(objects: (string | Buffer)[], trailerExtra = ''): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let length = parts[0].length;
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(length);
    const chunk = Buffer.concat([
      Buffer.from(`${i + 1} 0 obj\n`, 'latin1'),
      typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
      Buffer.from('\nendobj\n', 'latin1'),
    ]);
    parts.push(chunk);
    length += chunk.length;
  });
  const xref =
    `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n` +
    offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('') +
    `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R ${trailerExtra}>>\nstartxref\n${length}\n%%EOF\n`;
  parts.push(Buffer.from(xref, 'latin1'));
  return Buffer.concat(parts);
}

const FONT = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';

/** A stream object holding `data` (already encoded), with extra dictionary entries such as `/Filter`. */
function stream(data: Buffer, dict = ''): Buffer {
  return Buffer.concat([
    Buffer.from(`<< /Length ${data.length} ${dict}>>\nstream\n`, 'latin1'),
    data,
    Buffer.from('\nendstream', 'latin1'),
  ]);
}

/**
 * `pages` pages that all share one content stream showing `text` `repeat` times: many pages make a big page
 * tree, many repeats make every page slow to read, while the file stays small.
 */
export function manyPagesPdf(pages: number, text = 'page', repeat = 1): Buffer {
  const firstPage = 5;
  const kids = Array.from({ length: pages }, (_, i) => `${firstPage + i} 0 R`).join(' ');
  const content = Buffer.from(`BT /F1 12 Tf 72 720 Td ${`(${text}) Tj `.repeat(repeat)}ET`, 'latin1');
  return handWrittenPdf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    `<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`,
    FONT,
    stream(content),
    ...Array.from(
      { length: pages },
      () => '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>',
    ),
  ]);
}

/**
 * A one-page PDF whose FlateDecode content stream inflates to `inflatedMb` MiB of blanks (a "zip bomb": the
 * file is ~1/1000 of that).
 */
export async function compressionBombPdf(inflatedMb: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => deflate.on('end', resolve).on('error', reject));
  const blanks = Buffer.alloc(1024 * 1024, 0x20);
  for (let i = 0; i < inflatedMb; i++) {
    if (!deflate.write(blanks)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return handWrittenPdf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [5 0 R] /Count 1 >>',
    FONT,
    stream(Buffer.concat(out), '/Filter /FlateDecode '),
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>',
  ]);
}

/** A PDF whose trailer names a Standard security handler (/Encrypt) with a user password we don't know. */
export function encryptedPdf(): Buffer {
  const hex32 = (c: string) => `<${c.repeat(64)}>`;
  return handWrittenPdf(
    [
      '<< /Type /Catalog /Pages 2 0 R >>',
      '<< /Type /Pages /Kids [5 0 R] /Count 1 >>',
      FONT,
      stream(Buffer.from('BT /F1 12 Tf 72 720 Td (secret) Tj ET', 'latin1')),
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>',
      `<< /Filter /Standard /V 1 /R 2 /O ${hex32('a')} /U ${hex32('b')} /P -4 >>`,
    ],
    `/Encrypt 6 0 R /ID [${hex32('c').slice(0, 34)}> ${hex32('c').slice(0, 34)}>] `,
  );
}

/**
 * A one-page PDF showing `beforeXafterZend` whose font's ToUnicode CMap (PDF 32000-1 §9.10.3) maps `X` to U+0000
 * and `Z` to U+0007 (BEL), as a hostile or broken font may: the text extracts as `before\0after\x07end`.
 */
export function controlCharsPdf(): Buffer {
  const cmap = [
    '/CIDInit /ProcSet findresource begin 12 dict begin begincmap',
    '/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def',
    '/CMapName /Adobe-Identity-UCS def /CMapType 2 def',
    '1 begincodespacerange <00> <FF> endcodespacerange',
    '2 beginbfchar <58> <0000> <5A> <0007> endbfchar',
    'endcmap CMapName currentdict /CMap defineresource pop end end',
  ].join('\n');
  return handWrittenPdf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [5 0 R] /Count 1 >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>',
    stream(Buffer.from('BT /F1 12 Tf 72 720 Td (beforeXafterZend) Tj ET', 'latin1')),
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>',
    stream(Buffer.from(cmap, 'latin1')),
  ]);
}

/** A one-page PDF with nothing to read on it (as a scan without OCR would be). */
export function blankPdf(): Buffer {
  return manyPagesPdf(1, '').subarray(0); // an empty string shows nothing
}
