// The one interface the rest of the server uses to talk to PostgreSQL, whichever backend is behind it:
// a PostgreSQL server (node-postgres pool) or the embedded PGlite database.

export type Row = Record<string, unknown>;

export interface QueryResult<T = Row> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Row>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

export interface Transaction extends Queryable {
  /** Runs a script of several statements inside the transaction. */
  exec(script: string): Promise<void>;
  /** COPY text-format rows into `table (columns)` inside the transaction; returns rows copied. */
  copyText(table: string, columns: readonly string[], payload: string): Promise<number>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'embedded';
  /** Concurrent writers the backend can use to advantage (the embedded database runs one query at a time). */
  readonly maxWriters: number;
  /** Runs a script of several statements (simple protocol, one implicit transaction). */
  exec(script: string): Promise<void>;
  /** Runs `fn` inside one transaction on one session; rolls back if it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Runs `fn` on one session (outside any transaction), e.g. to hold a session-level advisory lock. */
  session<T>(fn: (session: Transaction) => Promise<T>): Promise<T>;
  /** Streams `payload` (COPY text format, one row per line) into `table (columns)`; returns rows copied. */
  copyText(table: string, columns: readonly string[], payload: string): Promise<number>;
  close(): Promise<void>;
}

/** Type handling shared by both backends, so results look the same whichever is used. */
export const TYPE_OIDS = { INT8: 20, NUMERIC: 1700, TIMESTAMP: 1114, TIMESTAMPTZ: 1184, DATE: 1082 } as const;

/** int8 counts and ids come back as numbers (exact up to 2^53); larger values stay strings. */
export function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
