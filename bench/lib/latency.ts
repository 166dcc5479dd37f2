// Send → queryable latency: a reader polls the database for the rows of a few probe nodes and, for
// each row it sees for the first time, takes (start of the poll that first saw it) − (the message's
// `ts`, stored as created_at). The simulator stamps `ts` with this process's clock just before the
// send, so both ends use one clock. A row with `ts` t was not visible at the previous poll, so the
// figure is an upper bound, at most one poll period above the truth.
import type pg from 'pg';
import type { NodeSentRecord } from '../../src/simulator/index.js';

export interface LatencySummary {
  probeNodes: number;
  pollMs: number;
  samples: number;
  /** Rows of probe nodes the poller never saw within its look-back (counted as ≥ lookBackMs). */
  unseen: number;
  lookBackMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Epoch ms (fractional) of naive-UTC `YYYY-MM-DD HH:MM:SS[.ffffff]`. */
function utcMs(text: string): number {
  const [whole, fraction = ''] = text.split('.');
  return Date.parse(`${whole.replace(' ', 'T')}Z`) + Number(`0.${fraction || '0'}`) * 1000;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export class LatencyProbe {
  private readonly latencies: number[] = [];
  private readonly seen = new Set<string>();
  private connectionIds: number[] = [];
  private newest = 0;
  private running = false;
  private loop: Promise<void> | null = null;
  private startedAt = 0;
  private stopAt = Infinity;

  constructor(
    private readonly client: pg.Client,
    private readonly probes: readonly NodeSentRecord[],
    private readonly pollMs = 25,
    private readonly lookBackMs = 5000,
  ) {}

  start(): void {
    this.running = true;
    this.startedAt = Date.now();
    this.loop = this.run();
  }

  private async resolveConnections(): Promise<void> {
    const r = await this.client.query<{ id: number }>('SELECT id FROM peer_connections WHERE peer_id = ANY($1::text[])', [this.probes.map((p) => p.networkId)]);
    this.connectionIds = r.rows.map((row) => row.id);
  }

  private async run(): Promise<void> {
    let resolvedAt = 0;
    // Only rows sent after the probe started count (earlier ones may predate it by any amount).
    const floor = this.startedAt;
    this.newest = floor;
    while (this.running) {
      const began = Date.now();
      if (began - resolvedAt > 2000) {
        await this.resolveConnections();
        resolvedAt = began;
      }
      const pollStart = Date.now();
      const since = new Date(Math.max(floor, this.newest - this.lookBackMs)).toISOString().replace('T', ' ').replace('Z', '');
      const r = await this.client.query<{ id: string; t: string }>(
        'SELECT id::text AS id, created_at::text AS t FROM substrate_logs WHERE peer_connection_id = ANY($1::int[]) AND created_at >= $2::timestamp',
        [this.connectionIds, since],
      );
      for (const row of r.rows) {
        if (this.seen.has(row.id)) continue;
        this.seen.add(row.id);
        const ts = utcMs(row.t);
        if (ts < floor || ts >= this.stopAt) continue;
        if (ts > this.newest) this.newest = ts;
        this.latencies.push(pollStart - ts);
      }
      const wait = this.pollMs - (Date.now() - began);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Stops polling after one last look; rows of the probes sent meanwhile but never seen count as unseen. */
  async stop(): Promise<LatencySummary> {
    const stoppedAt = Date.now();
    this.stopAt = stoppedAt;
    // Let rows sent just before the stop become visible before giving up on them.
    await new Promise((resolve) => setTimeout(resolve, this.lookBackMs));
    this.running = false;
    await this.loop;
    await this.resolveConnections();
    const total = await this.client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM substrate_logs WHERE peer_connection_id = ANY($1::int[]) AND created_at >= $2::timestamp AND created_at < $3::timestamp',
      [this.connectionIds, new Date(this.startedAt).toISOString().replace('T', ' ').replace('Z', ''), new Date(stoppedAt).toISOString().replace('T', ' ').replace('Z', '')],
    );
    const counted = this.latencies.length;
    const unseen = Math.max(0, Number(total.rows[0].n) - counted);
    // Unseen rows took longer than the look-back: put them at the top of the distribution.
    const all = this.latencies.concat(Array<number>(unseen).fill(this.lookBackMs));
    all.sort((a, b) => a - b);
    const r1 = (v: number) => Math.round(v * 10) / 10;
    return {
      probeNodes: this.probes.length,
      pollMs: this.pollMs,
      samples: counted,
      unseen,
      lookBackMs: this.lookBackMs,
      p50Ms: r1(percentile(all, 50)),
      p90Ms: r1(percentile(all, 90)),
      p99Ms: r1(percentile(all, 99)),
      maxMs: r1(all[all.length - 1] ?? NaN),
    };
  }
}
