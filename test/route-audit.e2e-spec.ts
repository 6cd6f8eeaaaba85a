import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { KEY_SCOPE_KEY, ROLES_KEY } from '../src/auth/roles.guard';
import { API_KEY_SCOPES } from '../src/common/api-key-scopes';
import { IS_PUBLIC_KEY } from '../src/common/public.decorator';
import { startApp, TestApp } from './support/app';

/** Every route that may be reached without a token. Adding one here is a security decision: review it. */
const PUBLIC_ALLOW_LIST = [
  'POST /v1/auth/register',
  'POST /v1/auth/login',
  'POST /v1/auth/anonymous',
  'POST /v1/auth/refresh',
  'GET /health',
  'GET /health/ready',
  'GET /config',
  'GET /',
  // A share link: its unguessable token is the credential (rate-limited per IP like sign-in).
  'GET /v1/shared/:token',
  // Guarded by METRICS_TOKEN instead of a user's token (404 without it).
  'GET /metrics',
];

/** The API documentation, served outside the controllers (Swagger UI, the OpenAPI document, Redoc): public too. */
const PUBLIC_DOCUMENTATION = ['GET /docs', 'GET /docs-json', 'GET /docs-yaml', 'GET /redoc'];

/** Routes only admins may call. */
const ADMIN_ONLY = [
  'GET /v1/users',
  'GET /v1/users/:id',
  'GET /v1/users/:id/stats',
  'GET /v1/users/:id/usage',
  'GET /v1/users/:id/limits',
  'PATCH /v1/users/:id',
  'GET /v1/stats/global',
  'POST /v1/admin/reset-db',
];

interface Route {
  route: string;
  isPublic: boolean;
  roles: string[];
  /** The API-key scope the route needs (`none`: closed to keys); undefined when unclassified. */
  keyScope: string | undefined;
}

const join = (...parts: (string | undefined)[]) =>
  '/' +
  parts
    .flatMap((p) => (p ?? '').split('/'))
    .filter(Boolean)
    .join('/');

/** Lists every controller route of the running app with its `@Public()` flag and `@Roles()`, by reflection. */
function listRoutes(t: TestApp): Route[] {
  const reflector = new Reflector();
  const scanner = new MetadataScanner();
  const routes: Route[] = [];
  for (const module of t.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: unknown[]) => unknown) | undefined;
      if (!controller || !wrapper.instance) continue;
      const base = ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
      const proto = Object.getPrototypeOf(wrapper.instance);
      for (const name of scanner.getAllMethodNames(proto)) {
        const handler = proto[name];
        const path = Reflect.getMetadata(PATH_METADATA, handler);
        if (path === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const isPublic = !!reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [handler, controller]);
        const roles = reflector.getAllAndOverride<string[]>(ROLES_KEY, [handler, controller]) ?? [];
        const keyScope = reflector.getAllAndOverride<string | undefined>(KEY_SCOPE_KEY, [handler, controller]);
        for (const b of base) {
          for (const p of ([] as string[]).concat(path)) routes.push({ route: `${method} ${join(b, p)}`, isPublic, roles, keyScope });
        }
      }
    }
  }
  return routes;
}

describe('Route audit (e2e)', () => {
  let t: TestApp;
  let routes: Route[];
  beforeAll(async () => {
    t = await startApp();
    routes = listRoutes(t);
  });
  afterAll(() => t.close());

  it('finds the routes (the reflection works)', () => {
    const names = routes.map((r) => r.route);
    expect(names.length).toBeGreaterThan(10);
    expect(names).toEqual(expect.arrayContaining(['GET /v1/users/me', 'POST /v1/auth/login', 'POST /v1/applications']));
  });

  it('has no public route outside the allow-list', () => {
    const unexpected = routes.filter((r) => r.isPublic && !PUBLIC_ALLOW_LIST.includes(r.route)).map((r) => r.route);
    expect(unexpected).toEqual([]);
  });

  it('serves only the listed documentation routes without a token', async () => {
    for (const route of PUBLIC_DOCUMENTATION) {
      const res = await t.http().get(route.split(' ')[1]).redirects(1);
      expect({ route, status: res.status }).toEqual({ route, status: 200 });
    }
    const res = await t.http().get('/docs-anything');
    expect(res.status).toBe(404);
  });

  it('marks the auth entry points public, and logout not', () => {
    const publicRoutes = routes.filter((r) => r.isPublic).map((r) => r.route);
    expect(publicRoutes).toEqual(
      expect.arrayContaining(['POST /v1/auth/register', 'POST /v1/auth/login', 'POST /v1/auth/anonymous', 'POST /v1/auth/refresh']),
    );
    expect(publicRoutes).not.toContain('POST /v1/auth/logout');
  });

  it('restricts every admin route to the admin role', () => {
    for (const name of ADMIN_ONLY) {
      const route = routes.find((r) => r.route === name);
      expect({ name, found: !!route, roles: route?.roles }).toEqual({ name, found: true, roles: ['admin'] });
    }
  });

  it('classifies every authenticated route with an API-key scope, and closes admin routes to keys', () => {
    const known: string[] = [...API_KEY_SCOPES, 'none'];
    const unclassified = routes.filter((r) => !r.isPublic && !known.includes(r.keyScope ?? '')).map((r) => r.route);
    expect(unclassified).toEqual([]);
    expect(routes.filter((r) => r.roles.includes('admin') && r.keyScope !== 'none').map((r) => r.route)).toEqual([]);
    expect(routes.find((r) => r.route === 'POST /v1/chat/stream')?.keyScope).toBe('chat');
  });

  it('a route not on the allow-list really answers 401 without a token', async () => {
    const protectedRoutes = routes.filter((r) => !r.isPublic && !r.route.includes(':')).map((r) => r.route);
    expect(protectedRoutes.length).toBeGreaterThan(0);
    for (const route of protectedRoutes) {
      const [method, path] = route.split(' ');
      const res = await t.http()[method.toLowerCase() as 'get'](path);
      expect({ route, status: res.status }).toEqual({ route, status: 401 });
    }
  });
});
