import { HttpStatus } from '@nestjs/common';
import type { Request, Response } from 'express';

/**
 * The HTTP side of an upload: until the request body is in, any answer closes the connection (to keep it alive,
 * Node would read and throw away the rest of a body of up to `limits.max_upload_bytes`); once it is in, the
 * connection is kept. Answers 201 for a new file, 200 for bytes already stored.
 * @param work the upload, reading `req` as its body
 * @returns the upload's result, for Nest to send
 */
export async function answerUpload<T>(req: Request, res: Response, work: () => Promise<{ created: boolean; result: T }>): Promise<T> {
  res.setHeader('Connection', 'close');
  try {
    const { created, result } = await work();
    res.removeHeader('Connection');
    res.status(created ? HttpStatus.CREATED : HttpStatus.OK);
    return result;
  } catch (err) {
    if (req.readableEnded) res.removeHeader('Connection');
    throw err;
  }
}
