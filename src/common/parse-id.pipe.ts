import { HttpStatus, Injectable, PipeTransform } from '@nestjs/common';
import { ProblemException } from './problem';

/** Largest value of a PostgreSQL `integer` id. */
export const MAX_ID = 2_147_483_647;

/**
 * Parses a path id: a positive integer. Not one → 400; an integer beyond any id the database can hold → 404
 * (such a resource cannot exist, and the database must not see the value).
 * Only plain decimal digits count: `5e0`, `0x5` or ` 5` are not ids.
 */
@Injectable()
export class ParseIdPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    const id = /^\d{1,20}$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(id) || id < 1) {
      throw new ProblemException(HttpStatus.BAD_REQUEST, 'Invalid id: ids are positive integers.');
    }
    if (id > MAX_ID) throw new ProblemException(HttpStatus.NOT_FOUND, 'Not found.');
    return id;
  }
}
