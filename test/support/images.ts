import { crc32, deflateSync } from 'node:zlib';

/**
 * Tiny but complete images of one flat colour, encoded here so tests can pick any size: each is a file a decoder
 * reads (not just a header), small enough to inline as a data: URL.
 */

/** A PNG (8-bit greyscale, one IDAT). */
export function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // depth 8, greyscale, deflate, adaptive filtering, no interlace
  const rows = Buffer.alloc((width + 1) * height, 0x80);
  for (let y = 0; y < height; y++) rows[y * (width + 1)] = 0; // filter type None
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A GIF89a: a 128-colour table and LZW codes kept 8 bits wide by a clear code every 126 pixels, so each pixel is
 * one byte of code.
 */
export function gif(width: number, height: number): Buffer {
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen[4] = 0x86; // global colour table of 2^(6+1) = 128 entries
  const palette = Buffer.alloc(128 * 3, 0x80);
  const descriptor = Buffer.alloc(10);
  descriptor[0] = 0x2c;
  descriptor.writeUInt16LE(width, 5);
  descriptor.writeUInt16LE(height, 7);
  const codes: number[] = [];
  for (let i = 0; i < width * height; i++) {
    if (i % 126 === 0) codes.push(128); // clear
    codes.push(0);
  }
  codes.push(129); // end of information
  const blocks: Buffer[] = [];
  for (let i = 0; i < codes.length; i += 255) {
    const block = codes.slice(i, i + 255);
    blocks.push(Buffer.from([block.length, ...block]));
  }
  return Buffer.concat([Buffer.from('GIF89a', 'latin1'), screen, palette, descriptor, Buffer.from([7]), ...blocks, Buffer.from([0, 0x3b])]);
}

/**
 * A baseline JPEG (one grey component): Huffman tables of one 1-bit code each (DC difference 0, AC end of block),
 * so every 8×8 block is two zero bits.
 */
export function jpeg(width: number, height: number): Buffer {
  const segment = (marker: number, data: number[]) => Buffer.from([0xff, marker, (data.length + 2) >> 8, (data.length + 2) & 0xff, ...data]);
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const scan = Buffer.alloc(Math.ceil((blocks * 2) / 8)); // zero bits; the last byte's padding bits are ones
  const usedBits = (blocks * 2) % 8;
  if (usedBits) scan[scan.length - 1] = (1 << (8 - usedBits)) - 1;
  const oneCode = [1, ...Array<number>(15).fill(0), 0]; // one code of length 1, for symbol 0
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xe0, [...Buffer.from('JFIF\0', 'latin1'), 1, 1, 0, 0, 1, 0, 1, 0, 0]),
    segment(0xdb, [0, ...Array<number>(64).fill(1)]),
    segment(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]),
    segment(0xc4, [0x00, ...oneCode]),
    segment(0xc4, [0x10, ...oneCode]),
    segment(0xda, [1, 1, 0x00, 0, 63, 0]),
    scan,
    Buffer.from([0xff, 0xd9]),
  ]);
}

/** A lossless WebP (VP8L) whose five prefix codes each hold one symbol, so its pixels take no bits at all. */
export function webp(width: number, height: number): Buffer {
  const bits: number[] = [];
  const put = (value: number, count: number) => {
    for (let i = 0; i < count; i++) bits.push((value >> i) & 1);
  };
  put(width - 1, 14);
  put(height - 1, 14);
  put(0, 1); // no alpha
  put(0, 3); // version 0
  put(0, 1); // no transform
  put(0, 1); // no colour cache
  put(0, 1); // no meta prefix codes
  for (let code = 0; code < 5; code++) {
    put(1, 1); // simple code
    put(0, 1); // one symbol
    put(1, 1); // of 8 bits
    put([0x80, 0x80, 0x80, 0xff, 0][code], 8); // green, red, blue, alpha: opaque grey; distance: unused
  }
  const data = Buffer.alloc(1 + Math.ceil(bits.length / 8));
  data[0] = 0x2f;
  bits.forEach((bit, i) => (data[1 + (i >> 3)] |= bit << (i & 7)));
  const padded = data.length % 2 ? Buffer.concat([data, Buffer.alloc(1)]) : data;
  const chunkHead = Buffer.alloc(8);
  chunkHead.write('VP8L', 0, 'latin1');
  chunkHead.writeUInt32LE(data.length, 4);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(4 + 8 + padded.length, 4);
  riff.write('WEBP', 8, 'latin1');
  return Buffer.concat([riff, chunkHead, padded]);
}

/** `data` as a `data:` URL of type `mediaType`. */
export function dataUrl(mediaType: string, data: Buffer): string {
  return `data:${mediaType};base64,${data.toString('base64')}`;
}
