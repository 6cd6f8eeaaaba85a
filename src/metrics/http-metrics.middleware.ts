import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/**
 * Times every HTTP request into `http_server_request_duration_seconds`. The route label is the matched route
 * template (Express's `req.route.path`, e.g. `/v1/chat/sessions/:session_id`), `unmatched` for a path no route
 * serves, so a scan of random paths cannot grow the label set. A stream counts until its last byte.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: MetricsService) {}

  use(req: Request, res: Response, next: NextFunction): void {
    if (!this.metrics.enabled) return next();
    const started = performance.now();
    res.once('close', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      this.metrics.httpRequest(route ? `${req.baseUrl}${route}` : 'unmatched', req.method, res.statusCode, (performance.now() - started) / 1000);
    });
    next();
  }
}
