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
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export interface PostgresOptions {
  url: string;
  poolSize: number;
  maxWriters: number;
  applicationName?: string;
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
      connectionTimeoutMillis: 10_000,
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
    try {
      await client.query('BEGIN');
      const tx: Transaction = {
        async query<R = Row>(sql: string, params?: unknown[]) {
          const r = await client.query(sql, params as unknown[]);
          return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
        },
        async exec(script: string) {
          await client.query(script);
        },
      };
      const result = await fn(tx);
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
      client.release(broken);
    }
  }

  async session<T>(fn: (session: Transaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      return await fn({
        async query<R = Row>(sql: string, params?: unknown[]) {
          const r = await client.query(sql, params as unknown[]);
          return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
        },
        async exec(script: string) {
          await client.query(script);
        },
      });
    } catch (error) {
      broken = String((error as { code?: string }).code ?? '08').startsWith('08');
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async copyText(table: string, columns: readonly string[], payload: string): Promise<number> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      const stream = client.query(copyFrom(`COPY ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(', ')}) FROM STDIN`));
      await pipeline(Readable.from([payload]), stream);
      return stream.rowCount ?? 0;
    } catch (error) {
      // A connection that failed mid-COPY may be in an unknown protocol state: do not reuse it.
      broken = !(error as { code?: string }).code || String((error as { code?: string }).code).startsWith('08');
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
