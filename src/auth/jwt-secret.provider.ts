import { Logger, Provider } from '@nestjs/common';
import { createSecretKey, KeyObject, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig, appConfig } from '../config/app-config';

/**
 * DI token of the HMAC key (a secret `KeyObject`) that signs and verifies access JWTs. Made once: given a string,
 * jsonwebtoken would try `createPublicKey` and then `createSecretKey` on it for every token it verifies.
 */
export const JWT_SIGNING_KEY = Symbol('JWT_SIGNING_KEY');

/** Name of the development secret's file under `DATA_DIR`. */
export const JWT_SECRET_FILE = 'jwt-secret';

/**
 * The access-token signing secret: `JWT_SECRET` when set. Otherwise (only outside production: the configuration
 * refuses production without it) a 48-byte random secret kept in `<DATA_DIR>/jwt-secret` (mode 0600), generated on
 * the first start and reused afterwards, so tokens survive restarts of a development server.
 * @throws when the file exists but is too short to be a secret
 */
export function resolveJwtSecret(config: AppConfig, logger = new Logger('JwtSecret')): string {
  if (config.jwtSecret) return config.jwtSecret;
  const path = join(config.dataDir, JWT_SECRET_FILE);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, randomBytes(48).toString('base64url'), { flag: 'wx', mode: 0o600 });
    logger.warn(`JWT_SECRET is not set: generated a development signing secret in ${path}. Set JWT_SECRET in production.`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    logger.warn(`JWT_SECRET is not set: using the development signing secret in ${path}. Set JWT_SECRET in production.`);
  }
  const secret = readFileSync(path, 'utf8').trim();
  if (secret.length < 32) throw new Error(`${path} holds no usable secret (under 32 characters): delete it or set JWT_SECRET.`);
  return secret;
}

/** Provides {@link JWT_SIGNING_KEY}, resolved once at start-up. */
export const jwtSigningKeyProvider: Provider = {
  provide: JWT_SIGNING_KEY,
  inject: [appConfig.KEY],
  useFactory: (config: AppConfig): KeyObject => createSecretKey(Buffer.from(resolveJwtSecret(config), 'utf8')),
};
