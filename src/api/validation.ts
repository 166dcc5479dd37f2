// Request validation from the same TypeBox schemas that document the routes (OpenAPI at /docs/json).
// Query strings and path parameters arrive as text: they are converted strictly (an integer parameter
// accepts only digits, a boolean only true/false), then checked; every problem becomes a 400 naming the
// parameter and what was expected. No coercion of bodies: JSON types must be right as sent.
import { FormatRegistry, Kind, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import type { FastifySchemaCompiler } from 'fastify';
import { parseTime, TIME_EXPECTED } from '../domain/time.js';
import { ApiError, describeValue, type InputLocation, type ParameterProblem } from './errors.js';

export const TIME_FORMAT = 'timestamp';
FormatRegistry.Set(TIME_FORMAT, (value) => parseTime(value) !== null);

/** Plain-language description of what a schema accepts, e.g. "an integer from 1 to 10000". */
export function expectedOf(schema: TSchema): string {
  if (typeof schema['x-expected'] === 'string') return schema['x-expected'];
  switch (schema[Kind]) {
    case 'Integer':
    case 'Number': {
      const noun = schema[Kind] === 'Integer' ? 'an integer' : 'a number';
      const min = schema.minimum as number | undefined;
      const max = schema.maximum as number | undefined;
      if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
      if (min !== undefined) return `${noun} of at least ${min}`;
      if (max !== undefined) return `${noun} of at most ${max}`;
      return noun;
    }
    case 'String': {
      if (schema.format === TIME_FORMAT) return TIME_EXPECTED;
      const min = schema.minLength as number | undefined;
      const max = schema.maxLength as number | undefined;
      if (max !== undefined) return `a string of ${min ?? 0} to ${max} characters`;
      return min ? 'a non-empty string' : 'a string';
    }
    case 'Boolean':
      return 'true or false';
    case 'Literal':
      return JSON.stringify(schema.const);
    case 'Null':
      return 'null';
    case 'Object':
      return 'a JSON object';
    case 'Array':
      return 'a JSON array';
    case 'Union':
      return (schema.anyOf as TSchema[]).map(expectedOf).join(' or ');
    default:
      return 'any JSON value';
  }
}

/** Converts query-string/path text to the JSON types the schema asks for; anything doubtful stays text. */
function convertText(schema: TSchema, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  switch (schema[Kind]) {
    case 'Integer':
      return /^-?\d{1,16}$/.test(value) ? Number(value) : value;
    case 'Number':
      return /^-?\d{1,16}(\.\d+)?$/.test(value) ? Number(value) : value;
    case 'Boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    default:
      return value;
  }
}

function convertObject(schema: TSchema, data: unknown): unknown {
  if (schema[Kind] !== 'Object' || data === null || typeof data !== 'object') return data;
  const properties = schema.properties as Record<string, TSchema>;
  const out: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const [key, property] of Object.entries(properties)) {
    if (key in out) out[key] = convertText(property, out[key]);
  }
  return out;
}

function parameterName(error: ValueError, location: InputLocation): string {
  const name = error.path.replace(/^\//, '').replaceAll('/', '.').replaceAll('~1', '/').replaceAll('~0', '~');
  return name === '' ? location : name;
}

function problemsOf(errors: Iterable<ValueError>, location: InputLocation): ParameterProblem[] {
  const byParameter = new Map<string, ParameterProblem>();
  for (const error of errors) {
    const parameter = parameterName(error, location);
    if (byParameter.has(parameter)) continue;
    const expected = expectedOf(error.schema);
    let message: string;
    if (error.type === ValueErrorType.ObjectRequiredProperty) message = `${parameter} is required: expected ${expected}`;
    else if (error.type === ValueErrorType.ObjectAdditionalProperties) message = `${parameter} is not allowed here`;
    else if (Array.isArray(error.value) && location !== 'body') message = `${parameter}: expected ${expected}, given once (it was given ${error.value.length} times)`;
    else message = `${parameter}: expected ${expected}, got ${describeValue(error.value)}`;
    byParameter.set(parameter, { parameter, in: location, expected, message });
  }
  return [...byParameter.values()];
}

interface Branch {
  schema: TSchema;
  check: TypeCheck<TSchema>;
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();
function compile(schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check;
}

/**
 * Fastify validator compiler. A body schema that is a union (two accepted formats) reports the errors of
 * the format the body is closest to, and says which formats exist.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const location = (httpPart ?? 'body') as InputLocation;
  const branches: Branch[] = (schema[Kind] === 'Union' ? (schema.anyOf as TSchema[]) : [schema]).map((s) => ({ schema: s, check: compile(s) }));
  const textual = location === 'querystring' || location === 'params' || location === 'headers';
  return (data: unknown) => {
    let value: unknown = data ?? undefined;
    if (textual) {
      value = convertObject(schema, value ?? {});
      value = Value.Default(schema, value);
    }
    for (const branch of branches) if (branch.check.Check(value)) return { value };
    if (value === undefined || value === null) {
      const expected = expectedOf(schema);
      return { error: new ApiError('INVALID_BODY', `the request body is required: expected ${expected}`, { parameter: 'body', in: location, expected }) };
    }
    let best: ParameterProblem[] | null = null;
    for (const branch of branches) {
      const problems = problemsOf(branch.check.Errors(value), location);
      if (best === null || problems.length < best.length) best = problems;
    }
    const problems = best ?? [];
    const first = problems[0] ?? { parameter: location, in: location, expected: expectedOf(schema), message: `${location}: expected ${expectedOf(schema)}` };
    let message = first.message;
    if (branches.length > 1) message += ` (accepted formats: ${branches.map((b) => b.schema.title ?? expectedOf(b.schema)).join('; ')})`;
    return { error: new ApiError(location === 'body' ? 'INVALID_BODY' : 'INVALID_PARAMETER', message, { parameter: first.parameter, in: location, expected: first.expected, problems }) };
  };
};
