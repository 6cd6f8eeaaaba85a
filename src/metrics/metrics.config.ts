import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, appConfig } from '../config/app-config';

/** Where metrics are served: `METRICS_TOKEN` guards `/metrics` on the API port; `METRICS_PORT` opens a private listener. */
@Injectable()
export class MetricsConfig {
  /** Bearer token for `/metrics` on the API port; unset: 404 there. */
  readonly token: string | undefined;
  /** Port of the unauthenticated metrics listener; unset: none. */
  readonly port: number | undefined;
  /** Address that listener binds (default 127.0.0.1: keep it on a private network). */
  readonly host: string;

  constructor(@Inject(appConfig.KEY) config: AppConfig) {
    ({ token: this.token, port: this.port, host: this.host } = config.metrics);
  }
}
