// Request validation without a server (src/api/validation.ts): what each schema is said to accept, the
// strict conversion of query-string text, and the 400 naming the parameter at fault.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Type, type TSchema } from '@sinclair/typebox';
import { expectedOf, validatorCompiler, TIME_FORMAT } from '../../src/api/validation.js';
import { ApiError } from '../../src/api/errors.js';
import { TIME_EXPECTED } from '../../src/domain/time.js';

type Validate = (data: unknown) => { value?: unknown; error?: Error };

function validator(schema: TSchema, httpPart: string): Validate {
  return validatorCompiler({ schema, httpPart, method: 'GET', url: '/x' }) as Validate;
}

function refusal(result: { error?: Error }): ApiError {
  assert.ok(result.error instanceof ApiError, 'refused with an ApiError');
  return result.error;
}

describe('expectedOf', () => {
  it('describes numbers with their bounds, strings with their lengths, and the other kinds in words', () => {
    assert.equal(expectedOf(Type.Integer({ minimum: 1, maximum: 10000 })), 'an integer from 1 to 10000');
    assert.equal(expectedOf(Type.Number({ minimum: 0 })), 'a number of at least 0');
    assert.equal(expectedOf(Type.Integer({ maximum: 5 })), 'an integer of at most 5');
    assert.equal(expectedOf(Type.Number()), 'a number');
    assert.equal(expectedOf(Type.String({ maxLength: 8 })), 'a string of 0 to 8 characters');
    assert.equal(expectedOf(Type.String({ minLength: 1 })), 'a non-empty string');
    assert.equal(expectedOf(Type.String({ format: TIME_FORMAT })), TIME_EXPECTED);
    assert.equal(expectedOf(Type.Boolean()), 'true or false');
    assert.equal(expectedOf(Type.Union([Type.Literal('a'), Type.Null()])), '"a" or null');
    assert.equal(expectedOf(Type.Object({})), 'a JSON object');
    assert.equal(expectedOf(Type.Array(Type.String())), 'a JSON array');
    assert.equal(expectedOf(Type.Unknown()), 'any JSON value');
    assert.equal(expectedOf(Type.String({ 'x-expected': 'a peer id' })), 'a peer id');
  });
});

describe('validatorCompiler on the query string', () => {
  const query = Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }), audit: Type.Optional(Type.Boolean()), at: Type.Optional(Type.String({ format: TIME_FORMAT })) }, { additionalProperties: false });
  const validate = validator(query, 'querystring');

  it('converts digits and true/false, and fills defaults', () => {
    assert.deepEqual(validate({ limit: '5', audit: 'true' }).value, { limit: 5, audit: true });
    assert.deepEqual(validate({}).value, { limit: 10 });
    assert.deepEqual(validate({ at: '2019-01-01T00:00:00' }).value, { limit: 10, at: '2019-01-01T00:00:00' });
  });

  it('converts nothing doubtful: a number with letters, 1e3, yes/no stay text and are refused by name', () => {
    for (const [parameter, text] of [['limit', '5x'], ['limit', '1e3'], ['audit', 'yes']] as const) {
      const error = refusal(validate({ [parameter]: text }));
      assert.equal(error.code, 'INVALID_PARAMETER');
      assert.equal(error.statusCode, 400);
      assert.equal(error.parameter, parameter);
      assert.equal(error.in, 'querystring');
      assert.match(error.message, new RegExp(`^${parameter}: expected .*, got "${text}"$`));
    }
  });

  it('converts an integer out of range, and refuses it with the range', () => {
    assert.equal(refusal(validate({ limit: '1000' })).message, 'limit: expected an integer from 1 to 100, got 1000');
  });

  it('refuses a time it cannot read, an unknown parameter, and a parameter given twice', () => {
    assert.equal(refusal(validate({ at: 'yesterday' })).expected, TIME_EXPECTED);
    assert.match(refusal(validate({ colour: 'red' })).message, /^colour is not allowed here$/);
    assert.match(refusal(validate({ limit: ['1', '2'] })).message, /given once \(it was given 2 times\)/);
  });

  it('lists every problem, one per parameter, the first also at the top', () => {
    const error = refusal(validate({ limit: '0', audit: 'maybe' }));
    assert.deepEqual(error.problems?.map((p) => p.parameter).sort(), ['audit', 'limit']);
    assert.equal(error.parameter, error.problems?.[0].parameter);
  });
});

describe('validatorCompiler on bodies', () => {
  const v1 = Type.Object({ name: Type.String() }, { title: 'by name', additionalProperties: false });
  const v2 = Type.Object({ id: Type.Integer(), tags: Type.Array(Type.String()) }, { title: 'by id' });

  it('does not coerce body types', () => {
    const error = refusal(validator(v2, 'body')({ id: '1', tags: [] }));
    assert.equal(error.code, 'INVALID_BODY');
    assert.equal(error.parameter, 'id');
    assert.equal(error.in, 'body');
  });

  it('a missing body is refused as required, naming what is expected', () => {
    const error = refusal(validator(v1, 'body')(undefined));
    assert.equal(error.parameter, 'body');
    assert.match(error.message, /the request body is required: expected a JSON object/);
  });

  it('a union reports the errors of the closest format and names the accepted formats', () => {
    const validate = validator(Type.Union([v1, v2]), 'body');
    assert.deepEqual(validate({ id: 3, tags: ['a'] }).value, { id: 3, tags: ['a'] });
    const error = refusal(validate({ id: 3, tags: [1] }));
    assert.equal(error.parameter, 'tags.0');
    assert.match(error.message, /\(accepted formats: by name; by id\)$/);
  });
});
