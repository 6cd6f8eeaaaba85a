/** A confirmation with a human-readable message. */
export class AdminMessageDto {
  /** E.g. `Database reset`. */
  message: string;
}
