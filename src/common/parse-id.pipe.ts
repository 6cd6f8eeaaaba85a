import { HttpStatus, Injectable, PipeTransform } from '@nestjs/common';
import { ProblemException } from './problem';

/** Largest value of a PostgreSQL `integer` id. */
export const MAX_ID = 2_147_483_647;

/**
 * Parses a path id: a positive integer. Non-numeric → 400; numeric but beyond any id the database can hold → 404
 * (such a resource cannot exist, and the database must not see the value).
 */
@Injectable()
export class ParseIdPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    if (!/^\d{1,20}$/.test(value)) {
      throw new ProblemException(HttpStatus.BAD_REQUEST, `"${value.slice(0, 40)}" is not a valid id: ids are positive integers.`);
    }
    const id = Number(value);
    if (id < 1 || id > MAX_ID) throw new ProblemException(HttpStatus.NOT_FOUND, 'Not found.');
    return id;
  }
}
