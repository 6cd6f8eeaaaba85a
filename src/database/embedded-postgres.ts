import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { Logger } from '@nestjs/common';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Connections the embedded server accepts (the app's pool, the migration lock, a psql for debugging). */
const EMBEDDED_MAX_CONNECTIONS = 4;

/**
 * The app's pool on the embedded server holds ONE connection: the socket server lets the extended-protocol
 * messages (Parse/Bind/Execute/Sync) of different connections interleave on PGlite's single session, which
 * fails queries under concurrency (pglite-socket 0.2.17, electric-sql/pglite#1046). One connection serialises
 * them, as PGlite serialises transactions anyway.
 */
export const EMBEDDED_POOL_SIZE = 1;

/**
 * PostgreSQL for zero-setup runs: PGlite (PostgreSQL compiled to WASM) kept under `<dataDir>/pgdata` and served
 * over the PostgreSQL wire protocol on a loopback port, so the ordinary pg driver, TypeORM and migrations work
 * unchanged. One per data directory per process. Good for a laptop, not for production (transactions serialise).
 */
export class EmbeddedPostgres {
  private static readonly running = new Map<string, Promise<EmbeddedPostgres>>();
  private readonly logger = new Logger(EmbeddedPostgres.name);

  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    private readonly dataDir: string,
  ) {}

  /**
   * Starts (or returns the already started) embedded server for a data directory.
   * @returns the server; `url` is its `postgres://` URL on 127.0.0.1
   */
  static start(dataDir: string): Promise<EmbeddedPostgres> {
    let started = EmbeddedPostgres.running.get(dataDir);
    if (!started) {
      started = EmbeddedPostgres.boot(dataDir);
      EmbeddedPostgres.running.set(dataDir, started);
      started.catch(() => EmbeddedPostgres.running.delete(dataDir));
    }
    return started;
  }

  private static async boot(dataDir: string): Promise<EmbeddedPostgres> {
    const pgdata = join(dataDir, 'pgdata');
    mkdirSync(pgdata, { recursive: true });
    const db = await PGlite.create(pgdata);
    const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: EMBEDDED_MAX_CONNECTIONS });
    await server.start();
    const embedded = new EmbeddedPostgres(db, server, dataDir);
    embedded.logger.log(`Embedded PostgreSQL (PGlite) serving ${pgdata} on ${server.getServerConn()}`);
    return embedded;
  }

  get url(): string {
    return `postgres://postgres:postgres@${this.server.getServerConn()}/postgres`;
  }

  /** Stops the socket server and closes the database files. */
  async stop(): Promise<void> {
    EmbeddedPostgres.running.delete(this.dataDir);
    await this.server.stop();
    await this.db.close();
  }
}
