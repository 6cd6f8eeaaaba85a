import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, appConfig } from '../config/app-config';
import { IMAGE_MEDIA_TYPES, ImageMediaType, ImagePart } from '../providers/content-parts';
import { ImageError, invalid } from './image-errors';
import { SniffedImage, sniffImage } from './image-sniffing';
import { SafeFetcher } from './safe-fetcher';

/** `data:<type>[;param=value…];base64,<data>` (RFC 2397); the type's case is not significant. */
const DATA_URL = /^data:([a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+)((?:;[a-z0-9!#$&^_.+-]+=[^;,]*)*);base64,/i;
/** Base64 of RFC 4648 §4, padded, nothing else (no whitespace, no URL-safe alphabet). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A common misspelling of `image/jpeg` that clients send and every provider accepts. */
const TYPE_ALIASES: Record<string, ImageMediaType> = { 'image/jpg': 'image/jpeg' };

/**
 * Checks image parts and loads images (`images.*` of the configuration): the type is told by the bytes (PNG, JPEG,
 * WebP or GIF) and must agree with the declared one, the dimensions come from the image's header, the size is at
 * most `images.max_bytes`; `https:` images are fetched through {@link SafeFetcher}, anything else but `data:` is
 * refused.
 */
@Injectable()
export class ImagesService {
  private readonly fetcher: SafeFetcher;
  private readonly maxBytes: number;

  constructor(@Inject(appConfig.KEY) config: AppConfig) {
    const { images } = config;
    this.maxBytes = images.max_bytes;
    this.fetcher = new SafeFetcher({
      maxBytes: images.max_bytes,
      timeoutMs: images.fetch_timeout_ms,
      maxRedirects: images.fetch_max_redirects,
      allowedNetworks: images.fetch_allowed_networks,
      ca: images.fetch_ca,
    });
  }

  /**
   * Checks one image part, fetching it when it is an `https:` URL.
   * @param field the request field holding the part (`messages.0.content.1`), named in errors
   * @returns the part (its `url` unchanged) with `media_type`, `width`, `height` (pixels) and `bytes` set
   * @throws ImageError (`image.refused` 400, `image.invalid` 422) naming `field`
   * @throws the caller's abort reason when `signal` aborts
   */
  async check(part: ImagePart, signal: AbortSignal, field: string): Promise<ImagePart> {
    try {
      const { mediaType, data, width, height } = await this.inspect(part.url, signal);
      return { ...part, media_type: mediaType, width, height, bytes: data.length };
    } catch (err) {
      throw err instanceof ImageError ? err.at(field) : err;
    }
  }

  /**
   * An image's bytes and type, for protocols that take images only inline (an {@link ImageLoader}).
   * @param url an `https:` or `data:` URL
   * @throws ImageError as {@link ImagesService.check}, without a field
   */
  async load(url: string, signal: AbortSignal): Promise<{ mediaType: ImageMediaType; data: Buffer }> {
    const { mediaType, data } = await this.inspect(url, signal);
    return { mediaType, data };
  }

  /** An image's bytes, what they are, and its dimensions. */
  private async inspect(url: string, signal: AbortSignal): Promise<SniffedImage & { data: Buffer }> {
    if (/^data:/i.test(url)) return this.decode(url);
    const { data, contentType } = await this.fetcher.fetch(url, signal);
    const image = sniffImage(data);
    const declared = contentType?.startsWith('image/') ? (TYPE_ALIASES[contentType] ?? contentType) : undefined;
    // Servers often send no type or a generic one; a different image type is a mismatch.
    if (declared && declared !== image.mediaType) throw invalid(`the image is ${image.mediaType}, but its server says ${contentType}`);
    return { ...image, data };
  }

  /** A `data:` URL's bytes, checked against its declared type and `images.max_bytes`. */
  private decode(url: string): SniffedImage & { data: Buffer } {
    const head = DATA_URL.exec(url);
    if (!head) throw invalid('a data: URL must look like data:image/png;base64,<base64 data>');
    const written = head[1].toLowerCase();
    const declared = TYPE_ALIASES[written] ?? written;
    if (!(IMAGE_MEDIA_TYPES as readonly string[]).includes(declared)) {
      throw invalid(`${written} is not an accepted image type (${IMAGE_MEDIA_TYPES.join(', ')})`);
    }
    const base64 = url.slice(head[0].length);
    // Checked before decoding, so an oversized image costs no allocation.
    const size = (base64.length / 4) * 3 - (base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0);
    if (size > this.maxBytes) throw invalid(`the image is larger than ${this.maxBytes} bytes`);
    if (!BASE64.test(base64)) throw invalid('the data: URL is not valid base64 (RFC 4648, padded, without spaces)');
    const data = Buffer.from(base64, 'base64');
    const image = sniffImage(data);
    if (image.mediaType !== declared) throw invalid(`the data is a ${image.mediaType} image, not ${written} as declared`);
    return { ...image, data };
  }
}
