// Error responses of the query API. Every error is answered with a JSON body:
//   { "statusCode": 400, "error": "Bad Request", "code": "INVALID_PARAMETER",
//     "message": "limit: expected an integer from 1 to 10000, got \"abc\"",
//     "parameter": "limit", "in": "querystring", "expected": "an integer from 1 to 10000" }
// `parameter`, `in` and `expected` are present when one input is to blame. Database failures become 503
// (unreachable, or the statement timeout) or 500 (anything else, without leaking SQL details).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { AppError, ERROR_CODES, type ErrorCode } from '../errors.js';
import { QueryOverloadedError } from './admission.js';

export type InputLocation = 'querystring' | 'params' | 'body' | 'headers';

export interface ParameterProblem {
  parameter: string;
  in: InputLocation;
  expected: string;
  message: string;
}

/** An AppError that names the input at fault. */
export class ApiError extends AppError {
  readonly parameter?: string;
  readonly in?: InputLocation;
  readonly expected?: string;
  /** Every problem found, when there are several (the first is also in parameter/expected). */
  readonly problems?: ParameterProblem[];
  /** Further fields of the error body, e.g. the choices of a 409. */
  readonly extra?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    details: { parameter?: string; in?: InputLocation; expected?: string; problems?: ParameterProblem[]; extra?: Record<string, unknown> } = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'ApiError';
    this.parameter = details.parameter;
    this.in = details.in;
    this.expected = details.expected;
    this.problems = details.problems;
    this.extra = details.extra;
  }
}

export function invalidParameter(parameter: string, location: InputLocation, expected: string, got?: unknown): ApiError {
  const message = `${parameter}: expected ${expected}${got === undefined ? '' : `, got ${describeValue(got)}`}`;
  return new ApiError(location === 'body' ? 'INVALID_BODY' : 'INVALID_PARAMETER', message, { parameter, in: location, expected });
}

export function notFound(what: string, parameter?: string, location?: InputLocation): ApiError {
  return new ApiError('NOT_FOUND', `${what} not found`, { parameter, in: location });
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? `a ${typeof value}`;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', '57P01', '57P02', '57P03', '53300', '53400']);
const UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|connection is closed|Client has encountered a connection error|PGlite is closed|Cannot use a pool after calling end/i;

/** A string or number field of a thrown value, as text ('' when absent or of another type). */
function textField(error: unknown, name: 'code' | 'message'): string {
  const value = (error as Record<string, unknown> | null | undefined)?.[name];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

/** Maps a database error to the error the client sees. */
export function databaseError(error: unknown, statementTimeoutMs: number): AppError {
  if (error instanceof AppError) return error;
  const code = textField(error, 'code');
  const message = textField(error, 'message');
  if (code === '57014') {
    return new AppError('QUERY_TIMEOUT', `the query was cancelled after the statement timeout (STATEMENT_TIMEOUT_MS=${statementTimeoutMs}); narrow it (time window, limit) or try again`, { cause: error });
  }
  if (code.startsWith('22')) {
    // Data exception: a value from the request that the database cannot store or compare.
    return new ApiError('BAD_REQUEST', `the database rejected a value of the request: ${message}`, {}, { cause: error });
  }
  if ((code === '40001' || code === '40P01') && /conflict with recovery/i.test(message)) {
    // A read replica cancelled the query to replay the primary's changes (docs/scaling.md#read-replica): transient.
    return new AppError('DB_UNAVAILABLE', 'the read replica cancelled the query to apply changes from the primary (conflict with recovery); try again', { cause: error });
  }
  if (UNAVAILABLE_CODES.has(code) || code.startsWith('08') || UNAVAILABLE_MESSAGES.test(message)) {
    return new AppError('DB_UNAVAILABLE', 'the database is unavailable; try again later', { cause: error });
  }
  return new AppError('DB_QUERY_FAILED', ERROR_CODES.DB_QUERY_FAILED.message, { cause: error });
}

/** Fastify's own 4xx errors (body parsing, media type, size) in the API's format. */
function fromFastifyError(error: FastifyError): AppError | null {
  const status = error.statusCode ?? 500;
  if (status === 413) return new ApiError('BODY_TOO_LARGE', `the request body is larger than the limit of ${bodyLimitText(error)}`, { parameter: 'body', in: 'body' });
  if (status === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE', ERROR_CODES.UNSUPPORTED_MEDIA_TYPE.message, { parameter: 'content-type', in: 'headers', expected: 'application/json' });
  if (status >= 400 && status < 500) {
    const location: InputLocation = error.code?.startsWith('FST_ERR_CTP') ? 'body' : 'querystring';
    return new ApiError(location === 'body' ? 'INVALID_BODY' : 'INVALID_PARAMETER', error.message, { parameter: location === 'body' ? 'body' : undefined, in: location, expected: location === 'body' ? 'a JSON document' : undefined });
  }
  return null;
}

function bodyLimitText(error: FastifyError): string {
  const match = /(\d+)/.exec(error.message);
  return match ? `${match[1]} bytes` : 'the server';
}

export function errorBody(error: AppError): Record<string, unknown> {
  const body: Record<string, unknown> = {
    statusCode: error.statusCode,
    error: STATUS_CODES[error.statusCode] ?? 'Error',
    code: error.code,
    message: error.message,
  };
  if (error instanceof ApiError) {
    if (error.parameter !== undefined) body.parameter = error.parameter;
    if (error.in !== undefined) body.in = error.in;
    if (error.expected !== undefined) body.expected = error.expected;
    if (error.problems !== undefined && error.problems.length > 1) body.problems = error.problems;
    if (error.extra !== undefined) Object.assign(body, error.extra);
  }
  return body;
}

/** The error handler of the API's routes. */
export function createErrorHandler(statementTimeoutMs: number) {
  return (error: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply) => {
    let appError: AppError;
    if (error instanceof AppError) appError = error;
    else {
      const fastifyError = error as FastifyError;
      appError = (fastifyError.statusCode !== undefined && fromFastifyError(fastifyError)) || databaseError(error, statementTimeoutMs);
    }
    if (appError.statusCode >= 500) {
      // An unreachable database is reported by /ready and the writer; a timeout or a failure is worth a warning.
      const cause = (appError as { cause?: unknown }).cause ?? error;
      const level = appError.code === 'DB_UNAVAILABLE' || appError.code === 'QUERY_OVERLOADED' ? 'info' : 'warn';
      request.log[level]({ err: cause, code: appError.code, url: request.url }, 'query failed');
    }
    if (appError.code === 'DB_UNAVAILABLE' || appError.code === 'QUERY_TIMEOUT') reply.header('retry-after', '5');
    if (appError instanceof QueryOverloadedError) reply.header('retry-after', String(appError.retryAfterS));
    return reply.code(appError.statusCode).type('application/json; charset=utf-8').send(errorBody(appError));
  };
}
