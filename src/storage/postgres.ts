// Database backend for a PostgreSQL server: a node-postgres pool, COPY through pg-copy-streams.
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { type Database, type Transaction, type QueryResult, type Row, TYPE_OIDS, parseInt8, quoteIdentifier } from './database.js';

const identity = (text: string) => text;

const typeParsers = {
  getTypeParser(oid: number, format?: string) {
    if (oid === TYPE_OIDS.TIMESTAMP || oid === TYPE_OIDS.TIMESTAMPTZ || oid === TYPE_OIDS.DATE || oid === TYPE_OIDS.NUMERIC) return identity;
    if (oid === TYPE_OIDS.INT8) return parseInt8;
    return pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown;
  },
};

export interface PostgresOptions {
  url: string;
  poolSize: number;
  maxWriters: number;
  applicationName?: string;
  /** How long to wait for a connection (to open one, or for one to be free); default 10 s. */
  acquireTimeoutMs?: number;
}

function copyStatement(table: string, columns: readonly string[]): string {
  return `COPY ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(', ')}) FROM STDIN`;
}

async function copyOn(client: pg.PoolClient, table: string, columns: readonly string[], payload: string): Promise<number> {
  const stream = client.query(copyFrom(copyStatement(table, columns)));
  await pipeline(Readable.from([payload]), stream);
  return stream.rowCount ?? 0;
}

/** The Transaction view of one checked-out client. */
function sessionOf(client: pg.PoolClient): Transaction {
  return {
    async query<R = Row>(sql: string, params?: unknown[]) {
      const r = await client.query(sql, params as unknown[]);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
    async exec(script: string) {
      await client.query(script);
    },
    copyText: (table, columns, payload) => copyOn(client, table, columns, payload),
  };
}

/** A client whose connection failed (no SQLSTATE, or class 08) must not go back to the pool. */
function connectionBroken(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code !== 'string' || code.length !== 5 || code.startsWith('08') || code.startsWith('57P');
}

export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  readonly maxWriters: number;
  readonly pool: pg.Pool;

  constructor(options: PostgresOptions) {
    this.maxWriters = options.maxWriters;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      // Every timestamp column holds naive UTC; make now() agree whatever the server's zone.
      options: '-c TimeZone=UTC',
      application_name: options.applicationName ?? 'tetcore-analytics',
      connectionTimeoutMillis: options.acquireTimeoutMs ?? 10_000,
      types: typeParsers,
    });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    this.pool.on('error', () => {});
  }

  async query<T = Row>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    const result = await this.pool.query(sql, params as unknown[]);
    return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
  }

  async exec(script: string): Promise<void> {
    await this.pool.query(script);
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // A checked-out client has no listener of the pool's: a connection reset during a query (an outage)
    // would be an unhandled 'error' event and end the process. The query itself fails and is retried.
    const onError = () => (broken = true);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(sessionOf(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async session<T>(fn: (session: Transaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    const onError = () => (broken = true); // see transaction()
    client.on('error', onError);
    try {
      return await fn(sessionOf(client));
    } catch (error) {
      broken = connectionBroken(error);
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async copyText(table: string, columns: readonly string[], payload: string): Promise<number> {
    return this.session((session) => session.copyText(table, columns, payload));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
