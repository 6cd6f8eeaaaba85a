import { DomainError } from '../common/domain-error';
import type { FieldError } from '../common/problem';

/**
 * An image part the server refuses (`image.refused`: a URL it will not fetch) or can't use (`image.invalid`). Raised
 * without a field by the fetcher and the sniffing; {@link ImageError.at} names the request field (e.g.
 * `messages.0.content.1`) once it is known.
 */
export class ImageError extends DomainError {
  override readonly fieldErrors?: FieldError[] = undefined;

  /** @param reason a sentence fragment safe to show to the client, e.g. "the image is larger than 5242880 bytes" */
  constructor(
    readonly code: 'image.refused' | 'image.invalid',
    readonly reason: string,
    readonly field?: string,
  ) {
    super(field ? `${field}: ${reason}` : `The image was not accepted: ${reason}`);
    this.name = 'ImageError';
    if (field) this.fieldErrors = [{ field, message: reason }];
  }

  /** The same error, naming the request field that holds the image. */
  at(field: string): ImageError {
    return new ImageError(this.code, this.reason, field);
  }
}

/** An image URL the server will not fetch: not `https:`, or a host that is not a public address. */
export const refused = (reason: string) => new ImageError('image.refused', reason);

/** An image the server can't use: not fetched, not PNG/JPEG/WebP/GIF, or too large. */
export const invalid = (reason: string) => new ImageError('image.invalid', reason);
