import { Injectable } from '@nestjs/common';
import { Algorithm, hash, Options, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';

/**
 * Argon2id at OWASP's minimum recommended parameters (Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1),
 * about 20 ms a hash here.
 */
export const ARGON2_OPTIONS: Options = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/** Hashes and verifies passwords; the one place that knows the algorithm and its parameters. */
@Injectable()
export class PasswordHasher {
  /** A hash of a random password, verified against when there is no real hash, so every login costs the same. */
  private readonly dummyHash = hash(randomBytes(16).toString('base64url'), ARGON2_OPTIONS);

  /** @returns the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) to store */
  hash(password: string): Promise<string> {
    return hash(password, ARGON2_OPTIONS);
  }

  /**
   * Checks a password against a stored hash. With no stored hash (unknown email, anonymous user) it still runs a
   * full Argon2 verification against a dummy hash and answers false, so timing does not tell the cases apart.
   */
  async verify(storedHash: string | null | undefined, password: string): Promise<boolean> {
    if (!storedHash) {
      await verify(await this.dummyHash, password).catch(() => false);
      return false;
    }
    return verify(storedHash, password).catch(() => false);
  }
}
