// Answers a refused websocket handshake (ingestion, /feed) with a plain HTTP response in the API's error
// format, so a client sees the same body whether a query or a handshake was refused.
import type { FastifyReply } from 'fastify';
import type { AppError } from '../errors.js';
import { errorBody } from '../api/errors.js';

export function sendRefusal(reply: FastifyReply, error: AppError): FastifyReply {
  return reply.code(error.statusCode).type('application/json; charset=utf-8').send(errorBody(error));
}
