import { HttpStatus } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProblemException } from './problem';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * The deepest nesting of arrays and objects in a JSON text, found in one pass without parsing or recursion, so it
 * is safe on any input (a string of 10,000 `[` is just counted). Brackets inside strings are skipped; the text need
 * not be valid JSON (the parser reports that afterwards). Works on UTF-8 bytes: every byte of a multi-byte character
 * is ≥ 0x80, so it never looks like a quote, a backslash or a bracket.
 * @param json the raw body
 * @param stopAbove stop counting once the depth passes this (the answer is then `stopAbove + 1`)
 * @returns the deepest nesting (0 for a bare number or string)
 */
export function jsonDepth(json: Uint8Array, stopAbove = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const byte = json[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACKET || byte === OPEN_BRACE) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (byte === CLOSE_BRACKET || byte === CLOSE_BRACE) {
      depth--;
    }
  }
  return deepest;
}

/**
 * A `verify` hook for the JSON body parser: refuses (400) a body nested deeper than `maxDepth` before it is parsed,
 * so no recursive code (class-transformer, the validator, the NUL check) ever walks it.
 * @throws ProblemException 400 naming the limit
 */
export function rejectDeepJson(maxDepth: number) {
  return (_req: IncomingMessage, _res: ServerResponse, body: Buffer): void => {
    if (jsonDepth(body, maxDepth) > maxDepth) {
      throw new ProblemException(
        HttpStatus.BAD_REQUEST,
        `The JSON body is nested deeper than ${maxDepth} levels of arrays and objects.`,
      );
    }
  };
}
