import { Global, Injectable, Module } from '@nestjs/common';

/**
 * Whether this process is shutting down. From the moment it is, readiness answers 503 (load balancers stop sending
 * traffic here) and new sends are refused with 503, while running answers get their grace time.
 */
@Injectable()
export class Draining {
  private draining = false;

  get active(): boolean {
    return this.draining;
  }

  start(): void {
    this.draining = true;
  }
}

/** Provides the one {@link Draining} flag to every module. */
@Global()
@Module({ providers: [Draining], exports: [Draining] })
export class DrainingModule {}
