import request from 'supertest';

/** A registered user and its bearer token. */
export interface TestUser {
  id: number;
  email: string;
  token: string;
  refreshToken: string;
  auth: { Authorization: string };
}

let counter = 0;

/** Registers a fresh user through the public API. */
export async function registerUser(url: string, email = `user${++counter}-${Date.now()}@example.com`): Promise<TestUser> {
  const res = await request(url).post('/v1/auth/register').send({ email, password: 'correct horse battery' });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
  const token = res.body.access_token as string;
  return { id: res.body.user.id, email, token, refreshToken: res.body.refresh_token, auth: { Authorization: `Bearer ${token}` } };
}

/** `Authorization: Bearer <token>` as a header object for supertest's `set`. */
export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/**
 * Polls `GET /v1/models` on `url` with `token` until it answers `status` (what one instance changes reaches another
 * through Redis asynchronously); at most `tries` requests 20 ms apart.
 * @returns the last status seen
 */
export async function statusOn(url: string, token: string, status: number, tries = 50): Promise<number> {
  let last = 0;
  for (let i = 0; i < tries; i++) {
    last = (await request(url).get('/v1/models').set(bearer(token))).status;
    if (last === status) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  return last;
}
