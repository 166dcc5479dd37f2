// Tells a database that cannot be reached (refused, reset, timed out, starting up, shutting down) from one
// that answered with an error: start-up retries only the first (a schema that fails to migrate will not
// migrate on the next try either).

/** Socket and PostgreSQL codes of a connection that could not be made or was lost (class 08: connection exception). */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', '57P01', '57P02', '57P03', '53300']);
/** node-postgres reports some lost connections by message only (no code). */
const CONNECTION_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|connection is closed|Client has encountered a connection error/i;

/**
 * Whether the error (or anything it wraps: `cause`, the attempts of an AggregateError such as a refused
 * dual-stack connect) says the database could not be reached. An error without such a code (a failed
 * checksum, an SQL error) is an answer, not an absence.
 */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 8) return false;
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  if (typeof message === 'string' && CONNECTION_MESSAGES.test(message) && (code === undefined || code === null)) return true;
  if (Array.isArray(errors) && errors.some((inner) => isConnectionError(inner, depth + 1))) return true;
  return isConnectionError(cause, depth + 1);
}
