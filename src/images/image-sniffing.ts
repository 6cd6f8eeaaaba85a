import { imageSize } from 'image-size';
import type { ImageMediaType } from '../providers/content-parts';
import { invalid } from './image-errors';

/** What an image's bytes say it is. */
export interface SniffedImage {
  mediaType: ImageMediaType;
  /** Pixels. */
  width: number;
  height: number;
}

/**
 * Magic bytes of the accepted types: PNG (ISO/IEC 15948 signature), JPEG (SOI marker and the next marker's FF),
 * GIF (`GIF87a` / `GIF89a`), WebP (a RIFF container of form type `WEBP`, Google's WebP container specification).
 */
function magicType(data: Buffer): ImageMediaType | undefined {
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  const head = data.subarray(0, 6).toString('latin1');
  if (head === 'GIF87a' || head === 'GIF89a') return 'image/gif';
  if (data.length >= 12 && data.subarray(0, 4).toString('latin1') === 'RIFF' && data.subarray(8, 12).toString('latin1') === 'WEBP') {
    return 'image/webp';
  }
  return undefined;
}

/** image-size's names of the accepted types. */
const SIZE_TYPES: Record<ImageMediaType, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif' };

/**
 * Tells an image's type from its first bytes and reads its dimensions from its header (image-size); the pixels are
 * never decoded.
 * @throws ImageError `image.invalid` when the bytes are not a PNG, JPEG, WebP or GIF image with readable dimensions
 */
export function sniffImage(data: Buffer): SniffedImage {
  const mediaType = magicType(data);
  if (!mediaType) throw invalid('the data is not a PNG, JPEG, WebP or GIF image');
  let size: ReturnType<typeof imageSize>;
  try {
    size = imageSize(data);
  } catch {
    throw invalid(`the ${mediaType} image is damaged: its dimensions can't be read`);
  }
  if (size.type !== SIZE_TYPES[mediaType] || !size.width || !size.height) {
    throw invalid(`the ${mediaType} image is damaged: its dimensions can't be read`);
  }
  return { mediaType, width: size.width, height: size.height };
}
