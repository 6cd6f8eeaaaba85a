import { startApp } from './support/app';
it('debug', async () => {
  const t = await startApp({ ADMIN_EMAIL: 'b@example.com', ADMIN_PASSWORD: 'password123', LOG_LEVEL: 'error' });
  const tok = (await t.http().post('/v1/auth/login').send({ email: 'b@example.com', password: 'password123' })).body.access_token;
  const r = await t.http().get('/v1/users/abc').set('Authorization', `Bearer ${tok}`);
  console.log(r.status, r.body);
  await t.close();
});
