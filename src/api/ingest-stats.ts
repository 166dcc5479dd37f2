// GET /stats/ingest: what waits to be written — the writer's in-memory buffer and the disk spool's backlog
// (docs/spool.md#metrics), for operators watching a database outage drain.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Metrics } from '../metrics/catalogue.js';
import type { BatchWriter } from '../ingest/writer.js';
import type { Spool } from '../spool/spool.js';

const Backlog = Type.Object({
  messages: Type.Integer({ description: 'Spooled messages not yet written (stored or dropped)' }),
  bytes: Type.Integer({ description: 'Bytes of segment files' }),
  segments: Type.Integer(),
  oldestAgeS: Type.Union([Type.Number(), Type.Null()], { description: 'Age of the oldest unwritten spooled message, seconds (about)' }),
  diskFailed: Type.Boolean({ description: 'Appends fail (disk full): messages wait in memory' }),
});

export function registerIngestStats(app: FastifyInstance, deps: { metrics: Metrics; writer: BatchWriter; spool: Spool | null }): void {
  app.get(
    '/stats/ingest',
    {
      schema: {
        tags: ['operations'],
        summary: 'Messages waiting to be written: in memory and in the disk spool',
        response: {
          200: Type.Object({
            buffered: Type.Integer({ description: 'Messages in the writer\'s memory' }),
            paused: Type.Boolean({ description: 'Ingestion sockets are not read (backpressure)' }),
            stored: Type.Integer({ description: 'Messages stored since start' }),
            spool: Type.Union([Backlog, Type.Null()], { description: 'null: SPOOL_DIR is empty (no spool)' }),
          }),
        },
      },
    },
    async () => {
      deps.metrics.requests.inc();
      const { writer, spool } = deps;
      return { buffered: writer.pendingRows, paused: spool?.isPaused ?? writer.isPaused, stored: writer.stored, spool: spool?.backlog() ?? null };
    },
  );
}
