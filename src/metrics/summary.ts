// One info line a minute for the operator, read from the metrics: connections open, messages received
// and stored per second, drops by reason, how full the ingestion buffer is, and what the purge did,
// all since the previous line. Reading the metrics costs a few map lookups; nothing is counted twice.
import type { Logger } from 'pino';
import type { Metrics } from './catalogue.js';

export const SUMMARY_INTERVAL_MS = 60_000;

interface Counters {
  at: number;
  received: number;
  stored: number;
  dropped: Map<string, number>;
  purgeRuns: Map<string, number>;
  partitionsDropped: number;
  rowsDeleted: number;
}

async function total(metric: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
}

async function byLabel(metric: { get(): Promise<{ values: Array<{ value: number; labels: Partial<Record<string, string | number>> }> }> }, label: string): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (const v of (await metric.get()).values) {
    const key = String(v.labels[label]);
    result.set(key, (result.get(key) ?? 0) + v.value);
  }
  return result;
}

function deltas(now: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of now) {
    const delta = value - (before.get(key) ?? 0);
    if (delta > 0) out[key] = delta;
  }
  return out;
}

export class MetricsSummary {
  /** The counters at the previous line; at first, zero at creation (the metrics are created with the server). */
  private previous: Counters = { at: Date.now(), received: 0, stored: 0, dropped: new Map(), purgeRuns: new Map(), partitionsDropped: 0, rowsDeleted: 0 };
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly buffer: { maxRows: number; maxBytes: number },
  ) {}

  /** Logs a line every `intervalMs` (the first one interval after the start). */
  start(intervalMs = SUMMARY_INTERVAL_MS): void {
    this.timer = setInterval(() => void this.summarize().catch((err) => this.log.debug({ err }, 'summary failed')), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Logs the line for the time since the previous one (or since the start); returns what it logged. */
  async summarize(): Promise<Record<string, unknown>> {
    const now = await this.read();
    const before = this.previous;
    this.previous = now;
    const seconds = Math.max(0.001, (now.at - before.at) / 1000);
    const perSecond = (delta: number) => Math.round((delta / seconds) * 10) / 10;
    const rows = await total(this.metrics.bufferRows);
    const bytes = await total(this.metrics.bufferBytes);
    const purgeRuns = deltas(now.purgeRuns, before.purgeRuns);
    const dropped = deltas(now.dropped, before.dropped);
    const line = {
      periodS: Math.round(seconds),
      connections: await total(this.metrics.currentConnections),
      receivedPerS: perSecond(now.received - before.received),
      storedPerS: perSecond(now.stored - before.stored),
      dropped: Object.keys(dropped).length > 0 ? dropped : 'none',
      buffer: {
        rows,
        bytes,
        fillPercent: Math.round(Math.max(rows / this.buffer.maxRows, bytes / this.buffer.maxBytes) * 1000) / 10,
        paused: (await total(this.metrics.ingestPaused)) > 0,
      },
      purge: Object.keys(purgeRuns).length > 0
        ? { runs: purgeRuns, partitionsDropped: now.partitionsDropped - before.partitionsDropped, rowsDeleted: now.rowsDeleted - before.rowsDeleted }
        : 'no run',
    };
    this.log.info(line, 'summary');
    return line;
  }

  private async read(): Promise<Counters> {
    const m = this.metrics;
    return {
      at: Date.now(),
      received: await total(m.messagesReceived),
      stored: await total(m.messagesStored),
      dropped: await byLabel(m.messagesDropped, 'reason'),
      purgeRuns: await byLabel(m.purgeRuns, 'outcome'),
      partitionsDropped: await total(m.purgePartitionsDropped),
      rowsDeleted: await total(m.purgeRowsDeleted),
    };
  }
}
