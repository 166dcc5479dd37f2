// The catalogue of codes (src/errors.ts): every HTTP status is an error status, every close code the server
// sends is documented in docs/wire-protocol.md#close-codes, and a refusal body is built from the catalogue.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AppError, CLOSE_CODES, CLOSE_GRACE_MS, ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { errorBody } from '../../src/api/errors.js';
import { ROOT } from '../helpers/process.js';

describe('codes catalogue', () => {
  it('every error code has an error status (4xx or 5xx) and a message', () => {
    for (const [code, entry] of Object.entries(ERROR_CODES)) {
      assert.ok(entry.status >= 400 && entry.status < 600, code);
      assert.ok(entry.message.length > 0, code);
    }
  });

  it('a refusal body names the code, its status and the catalogue message unless given another', () => {
    assert.deepEqual(errorBody(new AppError('SHUTTING_DOWN')), { statusCode: 503, error: 'Service Unavailable', code: 'SHUTTING_DOWN', message: ERROR_CODES.SHUTTING_DOWN.message });
    const code: ErrorCode = 'UPGRADE_REQUIRED';
    assert.equal(errorBody(new AppError(code, '/feed is a websocket')).statusCode, 426);
  });

  it('close codes are distinct, and each is in the table of docs/wire-protocol.md#close-codes', () => {
    const doc = readFileSync(path.join(ROOT, 'docs/wire-protocol.md'), 'utf8');
    const table = doc.slice(doc.indexOf('## Close codes'), doc.indexOf('\n## ', doc.indexOf('## Close codes') + 1));
    const codes = Object.values(CLOSE_CODES).map((c) => c.code);
    assert.equal(new Set(codes).size, codes.length);
    for (const code of codes) assert.match(table, new RegExp(`^\\| ${code} \\| server \\|`, 'm'), `close code ${code}`);
    assert.match(doc, new RegExp(`after ${CLOSE_GRACE_MS} ms`), 'the documented grace period is the one used');
  });
});
