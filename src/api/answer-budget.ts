// The server-wide budget of JSON answers held in memory: an answer counts from the moment it is
// serialized until the OS has taken all of it (the response's `close`), so clients that ask for large
// pages and read them slowly (or never) cannot pile up answers without bound. An answer that would take
// the total past API_MAX_TOTAL_RESPONSE_BYTES is replaced by a 503 TOO_BUSY (Retry-After: 1), counted in
// tetcore_api_answers_refused_total; one answer alone is always allowed.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/catalogue.js';
import { AppError } from '../errors.js';
import { errorBody } from './errors.js';

export function limitAnswerMemory(api: FastifyInstance, maxTotalBytes: number, metrics: Metrics): void {
  let held = 0;
  api.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload !== 'string' || reply.statusCode >= 400) return payload;
    const bytes = payload.length;
    if (held > 0 && held + bytes > maxTotalBytes) {
      metrics.apiAnswersRefused.inc();
      request.log.info({ bytes, held, url: request.url }, 'answer refused: API_MAX_TOTAL_RESPONSE_BYTES in use');
      const error = new AppError('TOO_BUSY', `the server holds too many large answers not yet sent (API_MAX_TOTAL_RESPONSE_BYTES=${maxTotalBytes}); try again shortly or ask for a smaller limit`);
      reply.code(error.statusCode).header('retry-after', '1').type('application/json; charset=utf-8');
      return JSON.stringify(errorBody(error));
    }
    held += bytes;
    metrics.apiAnswerBytes.set(held);
    reply.raw.once('close', () => {
      held -= bytes;
      metrics.apiAnswerBytes.set(held);
    });
    return payload;
  });
}
