import { ConfigValidationError, loadAppConfig } from './app-config';

const BASE = { NODE_ENV: 'test', JWT_SECRET: 'a-test-secret-that-is-long-enough-0123456789' };

/** The problems `loadAppConfig` reports for these variables (none: the loaded config). */
function load(env: Record<string, string>) {
  try {
    return { config: loadAppConfig({ ...BASE, ...env }), problems: [] as string[] };
  } catch (err) {
    if (err instanceof ConfigValidationError) return { config: undefined, problems: err.problems };
    throw err;
  }
}

describe('TRUST_PROXY', () => {
  it('refuses true with one line saying why', () => {
    const { problems } = load({ TRUST_PROXY: 'true' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^TRUST_PROXY: true .*any client could choose its own rate-limit address/);
  });

  it.each([
    [undefined, false],
    ['false', false],
    ['1', 1],
    ['2', 2],
    ['10.0.0.0/8, 127.0.0.1', ['10.0.0.0/8', '127.0.0.1']],
    ['loopback,fc00::/7', ['loopback', 'fc00::/7']],
  ])('takes %p as Express trust proxy %p', (raw, expected) => {
    expect(load(raw === undefined ? {} : { TRUST_PROXY: raw }).config?.trustProxy).toEqual(expected);
  });

  it.each(['yes', '10.0.0.0/33', '300.1.1.1', 'example.com', '1.2.3.4/8/9'])('refuses %p', (raw) => {
    expect(load({ TRUST_PROXY: raw }).problems).toEqual([expect.stringMatching(/^TRUST_PROXY: expected false, a hop count or addresses\/CIDRs/)]);
  });
});

describe('CORS_ORIGINS', () => {
  it('is any origin outside production and none in production when unset', () => {
    expect(load({}).config?.corsOrigins).toEqual(['*']);
    expect(load({ NODE_ENV: 'production' }).config?.corsOrigins).toEqual([]);
  });

  it('takes a list of origins', () => {
    expect(load({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).config?.corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
    ]);
  });

  it('refuses * in production, and anything that is not an origin', () => {
    expect(load({ NODE_ENV: 'production', CORS_ORIGINS: '*' }).problems).toEqual([expect.stringMatching(/^CORS_ORIGINS: \* .*production/)]);
    expect(load({ CORS_ORIGINS: 'https://app.example.com/path' }).problems).toEqual([expect.stringMatching(/is not an origin/)]);
  });
});
