// Schema pieces shared by the routes: they validate requests and generate the OpenAPI document.
import { Type, type TSchema } from '@sinclair/typebox';
import { TIME_FORMAT } from './validation.js';

export const MAX_LIMIT = 10_000;
export const PG_INT_MAX = 2_147_483_647;

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * A time accepted in input (query parameter or body field). `example` is what /docs "Try it out" fills in:
 * optional query filters pass null, so that trying a route sends none and gets its defaults (one example
 * shared by start_time and end_time made an empty window, answered 400).
 */
export const TimeInput = (description: string, example: string | null = '2019-01-01T00:00:00') =>
  Type.String({ format: TIME_FORMAT, description: `${description}. \`2019-01-01T00:00:00[.ffffff]\` (UTC) or RFC 3339 with an offset.`, ...(example === null ? {} : { examples: [example] }) });

/** A time in a response: naive UTC, fraction (3 or 6 digits) only when non-zero. */
export const TimeOutput = (description = 'naive UTC time `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]`') => Type.String({ description, examples: ['2020-02-14T16:59:34.691495'] });

export const Limit = (defaultValue: number, what = 'rows') =>
  Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: defaultValue, description: `Maximum number of ${what} (default ${defaultValue}, at most ${MAX_LIMIT}).` });

/** PostgreSQL text cannot hold U+0000: such input is refused up front instead of failing in the database. */
const NO_NUL = '^[^\\u0000]*$';

/** A text field or parameter. */
export const Text = (description: string, options: { minLength?: number; maxLength?: number } = {}) =>
  Type.String({ pattern: NO_NUL, description, ...options, 'x-expected': expectedText(options) });

function expectedText(options: { minLength?: number; maxLength?: number }): string {
  const length = options.maxLength !== undefined ? ` of ${options.minLength ?? 0} to ${options.maxLength} characters` : options.minLength ? ' (non-empty)' : '';
  return `a string${length} without NUL characters`;
}

export const PeerId = (description = 'Peer id of a node, e.g. `12D3KooW…` or `Qm…`') => Text(description, { minLength: 1, maxLength: 512 });

/** Largest accepted JSON body on the API's POST routes (chain specs can be large); larger → 413. */
export const API_BODY_LIMIT = 1024 * 1024;

export const Id = (description: string) => Type.Integer({ minimum: 1, maximum: PG_INT_MAX, description });

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String({ description: 'HTTP reason phrase' }),
    code: Type.String({ description: 'Error code, e.g. INVALID_PARAMETER, NOT_FOUND, DB_UNAVAILABLE, QUERY_TIMEOUT' }),
    message: Type.String(),
    parameter: Type.Optional(Type.String({ description: 'The parameter (or body field) at fault' })),
    in: Type.Optional(Type.String({ description: 'querystring, params, body or headers' })),
    expected: Type.Optional(Type.String({ description: 'What the parameter must be' })),
    problems: Type.Optional(Type.Array(Type.Object({ parameter: Type.String(), in: Type.String(), expected: Type.String(), message: Type.String() }))),
  },
  { title: 'Error' },
);

/** Error responses every query route can give. */
export const QUERY_ERRORS = {
  400: { ...ErrorBody, description: 'A parameter is missing or invalid' },
  500: { ...ErrorBody, description: 'The database failed to answer' },
  503: { ...ErrorBody, description: 'The database is unavailable, the query exceeded the statement timeout, or the server holds API_MAX_TOTAL_RESPONSE_BYTES of answers not yet sent (TOO_BUSY, Retry-After: 1)' },
} as const;

/** Error responses of the POST routes, in addition to QUERY_ERRORS. */
export const BODY_ERRORS = {
  413: { ...ErrorBody, description: `Body larger than ${API_BODY_LIMIT} bytes` },
  415: { ...ErrorBody, description: 'Body is not JSON' },
} as const;
