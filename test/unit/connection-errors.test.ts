// Which errors start-up waits out (the database cannot be reached) and which it reports (the database answered).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isConnectionError } from '../../src/storage/connection-errors.js';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
const wrapped = (cause: unknown) => Object.assign(new Error('database migration failed: …', { cause }), { code: 'MIGRATION_FAILED' });

test('connection failures, however wrapped, are connection errors', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', '08006', '08001', '57P03', '57P01']) {
    assert.equal(isConnectionError(wrapped(coded(code))), true, code);
  }
  assert.equal(isConnectionError(wrapped(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')]))), true, 'dual-stack connect');
  assert.equal(isConnectionError(wrapped(new Error('timeout exceeded when trying to connect'))), true);
  assert.equal(isConnectionError(wrapped(new Error('Connection terminated unexpectedly'))), true);
});

test('answers of the database are not connection errors', () => {
  assert.equal(isConnectionError(wrapped(new Error('MD5 checksum failed for migration [1]'))), false);
  assert.equal(isConnectionError(wrapped(coded('42P01', 'relation "x" does not exist'))), false);
  assert.equal(isConnectionError(wrapped(coded('42601', 'syntax error'))), false);
  assert.equal(isConnectionError(new Error('migrations 1 are numbered below the database version 7')), false);
  assert.equal(isConnectionError(null), false);
  assert.equal(isConnectionError('ECONNREFUSED'), false);
  // A cycle of causes ends.
  const a: { cause?: unknown } = {};
  a.cause = a;
  assert.equal(isConnectionError(a), false);
});
