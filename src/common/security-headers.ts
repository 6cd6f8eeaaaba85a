import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';

/** Where the API documentation pages are served, and the one remote script the Redoc page loads. */
export interface DocsPages {
  /** Swagger UI, e.g. `/docs` (its pages and assets are under it). */
  swaggerUi: string;
  /** The Redoc page, e.g. `/redoc`, and the exact URL of the Redoc bundle it loads. */
  redoc: { path: string; scriptUrl: string };
}

/**
 * Security headers on every answer, errors included (helmet): `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer`, HSTS, `X-Frame-Options`, cross-origin isolation headers, and a Content Security
 * Policy. API answers are data, never pages, so their policy allows nothing (`default-src 'none'`). Each docs page
 * gets the narrowest policy it works with, and only that page:
 * - Swagger UI: its scripts, styles, images and the API calls of "Try it out" from this origin only; inline styles
 *   (its HTML has a `<style>` block and React sets style attributes) and `data:` images (its icons); no inline script.
 * - Redoc: exactly its bundle's URL as script source (a source expression with a path not ending in `/` matches that
 *   file only: CSP Level 3, "Does url match expression"), inline styles (styled-components writes `<style>` elements), `blob:` workers (its search index runs
 *   in a worker made from a Blob), the document fetched from this origin; no inline script.
 * Neither allows framing, other origins' connections or `eval`.
 * @param pages where the docs pages are served
 * @returns an Express middleware, to be installed before every route
 */
export function securityHeaders(pages: DocsPages) {
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
  const redoc = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: [pages.redoc.scriptUrl],
        styleSrc: ["'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        workerSrc: ['blob:'],
        baseUri: ["'self'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
  });
  const { swaggerUi } = pages;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.path === pages.redoc.path) return redoc(req, res, next);
    const underDocs = req.path === swaggerUi || req.path.startsWith(`${swaggerUi}/`);
    (underDocs ? docs : api)(req, res, next);
  };
}
