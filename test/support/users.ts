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
