import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';

/**
 * Security headers on every answer, errors included (helmet): `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer`, HSTS, `X-Frame-Options`, cross-origin isolation headers, and a Content Security
 * Policy. API answers are data, never pages, so their policy allows nothing (`default-src 'none'`). The Swagger UI
 * under `docsPath` gets the narrowest policy it works with: its scripts, styles, images and the API calls of "Try it
 * out" from this origin only; inline styles (its HTML has a `<style>` block and React sets style attributes) and
 * `data:` images (its icons); no inline script, no other origin, no framing.
 * @param docsPath where the Swagger UI is served, e.g. `/docs`
 * @returns an Express middleware, to be installed before every route
 */
export function securityHeaders(docsPath: string) {
  const api = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  });
  const docs = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  });
  return (req: Request, res: Response, next: NextFunction): void => {
    const underDocs = req.path === docsPath || req.path.startsWith(`${docsPath}/`);
    (underDocs ? docs : api)(req, res, next);
  };
}
