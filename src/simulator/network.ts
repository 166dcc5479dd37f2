// The simulated network as a schedule: one chain (blocks, authors, forks) and, per node, the ordered
// timeline of its block imports, finality notifications, outages and catch-up syncs. Pure and
// deterministic from the seed (no clock, no I/O): times are simulated milliseconds since the run began.

import { hashHex, seededRandom, type BlockOrigin } from './messages.js';

type Range = [number, number];

export interface NetworkOptions {
  /** Seed of everything below; block hashes are `hashHex(seed, height)`. */
  seed: string;
  nodes: number;
  /** Nodes sharing one socket go offline together (churn is per socket); default 1. */
  idsPerSocket?: number;
  /** Height of the best block when the run begins (time 0); default 1000. */
  baseHeight?: number;
  /** A block every this many ms; default 3000. */
  blockTimeMs?: number;
  /** Range of each node's base propagation delay; each block adds a jitter of ±10 % of the range, clamped to it. Default [100, 600]. */
  propagationMs?: [number, number];
  /** A node finalizes the block this many below each block it imports; default 2, at least 1. */
  finalityLag?: number;
  /** Delay between an import and the finality notification it leads to; default [100, 600]. */
  finalityDelayMs?: [number, number];
  /** Probability that a block height also gets a competing fork block; default 0. */
  forkRate?: number;
  /** Fraction of the nodes (author excluded) that import a fork block; default 0.3. */
  forkShare?: number;
  /** Probability that a socket goes offline once in each churn period; default 0. */
  churn?: number;
  /** Default 60 000. */
  churnPeriodMs?: number;
  /** Length of one outage, at most 80 % of the churn period; default [10 000, 30 000]. */
  downtimeMs?: [number, number];
  /** Fraction of the nodes that start behind the chain and sync to it; default 0. */
  syncing?: number;
  /** How far behind a syncing node starts, in blocks; default [100, 300]. */
  syncBacklog?: [number, number];
  /** Catch-up speed of a syncing node; default 50, must outpace block production. */
  syncBlocksPerSecond?: number;
  /** Authority (validator) count V: block authors are drawn among them; default 4. */
  authorities?: number;
  /** Nodes 0..V-1 are the authorities and author blocks (origin `Own`); false: all authors are outside the simulation. */
  nodesAuthor?: boolean;
}

export interface ChainBlock {
  height: number;
  hash: string;
  parentHash: string;
  /** Simulated ms; ≤ 0 for blocks that existed when the run began. */
  producedAt: number;
  /** Index of the authoring authority. */
  authority: number;
  /** The simulated node that authored it, or null when the author is outside the simulation. */
  authorNode: number | null;
  /** A competing block of the same height (same parent), never finalized. */
  fork: { hash: string; producedAt: number } | null;
}

export type NodeEvent =
  | { kind: 'import'; at: number; height: number; hash: string; origin: BlockOrigin; /** false: imported but not reported (initial sync reports ~10 %). */ reported: boolean }
  | { kind: 'finalized'; at: number; height: number; hash: string }
  | { kind: 'offline'; at: number }
  | { kind: 'online'; at: number };

export interface NodeChainState {
  bestHeight: number;
  bestHash: string;
  finalizedHeight: number;
  finalizedHash: string;
}

/** An interval of simulated ms during which a socket's nodes are down. */
export interface Outage {
  start: number;
  end: number;
}

/** Share of the blocks caught up during initial sync that a node reports (sc-informant samples 10 %). */
export const SYNC_REPORT_SHARE = 0.1;
/** Catch-up speed of a syncing node unless told otherwise. */
export const DEFAULT_SYNC_BLOCKS_PER_SECOND = 50;
/** A node (re)started finds peers for this long before it syncs (its telemetry connects meanwhile). */
export const PEERING_MS: Range = [2000, 5000];

function checkRange(name: string, range: Range, min = 0): Range {
  const [a, b] = range;
  if (!Number.isFinite(a) || !Number.isFinite(b) || a < min || a > b) throw new RangeError(`${name} must be a range A-B with ${min} ≤ A ≤ B, got ${a}-${b}`);
  return range;
}

function checkNumber(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(`${name} must be a number in ${min}..${max}, got ${value}`);
  return value;
}

const between = (draw: number, [a, b]: Range) => a + draw * (b - a);

export class NetworkModel {
  readonly seed: string;
  readonly nodes: number;
  readonly idsPerSocket: number;
  readonly baseHeight: number;
  readonly blockTimeMs: number;
  readonly propagationMs: Range;
  readonly finalityLag: number;
  readonly finalityDelayMs: Range;
  readonly forkRate: number;
  readonly forkShare: number;
  readonly churn: number;
  readonly churnPeriodMs: number;
  readonly downtimeMs: Range;
  readonly syncing: number;
  readonly syncBacklog: Range;
  readonly syncBlocksPerSecond: number;
  readonly authorities: number;
  readonly nodesAuthor: boolean;
  /** Recently built blocks: every node asks for the same few heights. */
  private readonly blockCache = new Map<number, ChainBlock>();
  private readonly baseDelays = new Map<number, number>();

  constructor(options: NetworkOptions) {
    this.seed = options.seed;
    this.nodes = checkNumber('nodes', options.nodes, 1);
    this.idsPerSocket = checkNumber('idsPerSocket', options.idsPerSocket ?? 1, 1);
    this.baseHeight = checkNumber('baseHeight', options.baseHeight ?? 1000, 0);
    this.blockTimeMs = checkNumber('blockTimeMs', options.blockTimeMs ?? 3000, 1);
    this.propagationMs = checkRange('propagationMs', options.propagationMs ?? [100, 600]);
    this.finalityLag = checkNumber('finalityLag', options.finalityLag ?? 2, 1);
    this.finalityDelayMs = checkRange('finalityDelayMs', options.finalityDelayMs ?? [100, 600]);
    this.forkRate = checkNumber('forkRate', options.forkRate ?? 0, 0, 1);
    this.forkShare = checkNumber('forkShare', options.forkShare ?? 0.3, 0, 1);
    this.churn = checkNumber('churn', options.churn ?? 0, 0, 1);
    this.churnPeriodMs = checkNumber('churnPeriodMs', options.churnPeriodMs ?? 60_000, 1);
    this.downtimeMs = checkRange('downtimeMs', options.downtimeMs ?? [10_000, 30_000], 1);
    if (this.churn > 0 && this.downtimeMs[1] > 0.8 * this.churnPeriodMs) {
      throw new RangeError(`downtimeMs (up to ${this.downtimeMs[1]}) must fit in 80 % of the churn period (${this.churnPeriodMs})`);
    }
    this.syncing = checkNumber('syncing', options.syncing ?? 0, 0, 1);
    this.syncBacklog = checkRange('syncBacklog', options.syncBacklog ?? [100, 300], 1);
    if (this.syncBacklog[1] > this.baseHeight) throw new RangeError(`syncBacklog (up to ${this.syncBacklog[1]}) exceeds baseHeight ${this.baseHeight}`);
    this.syncBlocksPerSecond = checkNumber('syncBlocksPerSecond', options.syncBlocksPerSecond ?? DEFAULT_SYNC_BLOCKS_PER_SECOND, 0.001);
    // A sync slower than production never ends: require a clear margin.
    if (this.syncBlocksPerSecond < 1.5 * (1000 / this.blockTimeMs)) {
      throw new RangeError(`syncBlocksPerSecond (${this.syncBlocksPerSecond}) must be at least 1.5 × the block rate (${1000 / this.blockTimeMs}/s)`);
    }
    this.authorities = checkNumber('authorities', options.authorities ?? 4, 1);
    this.nodesAuthor = options.nodesAuthor ?? false;
  }

  /** Height of the newest block produced at or before simulated time `t`. */
  tipAt(t: number): number {
    return this.baseHeight + Math.max(0, Math.floor(t / this.blockTimeMs));
  }

  canonicalHash(height: number): string {
    return hashHex(this.seed, height);
  }

  block(height: number): ChainBlock {
    const cached = this.blockCache.get(height);
    if (cached) return cached;
    const random = seededRandom(`${this.seed}/block/${height}`);
    const authority = Math.floor(random() * this.authorities);
    const forkDraw = random();
    const forkOffset = random();
    const producedAt = (height - this.baseHeight) * this.blockTimeMs;
    const block: ChainBlock = {
      height,
      hash: this.canonicalHash(height),
      parentHash: this.canonicalHash(height - 1),
      producedAt,
      authority,
      authorNode: this.nodesAuthor && authority < this.nodes ? authority : null,
      // A competing author's block appears within a tenth of a block time of the canonical one.
      fork: height > this.baseHeight && forkDraw < this.forkRate
        ? { hash: hashHex(this.seed, 'fork', height), producedAt: producedAt + forkOffset * 0.1 * this.blockTimeMs }
        : null,
    };
    if (this.blockCache.size >= 512) this.blockCache.delete(this.blockCache.keys().next().value!);
    this.blockCache.set(height, block);
    return block;
  }

  socketOf(node: number): number {
    return Math.floor(node / this.idsPerSocket);
  }

  /** The node's base propagation delay, fixed for the run. */
  baseDelayMs(node: number): number {
    let delay = this.baseDelays.get(node);
    if (delay === undefined) {
      delay = between(seededRandom(`${this.seed}/node/${node}/delay`)(), this.propagationMs);
      this.baseDelays.set(node, delay);
    }
    return delay;
  }

  /** Delay between the production of a block and its arrival at the node: base ± jitter, within the range. */
  delayMs(node: number, height: number): number {
    const [a, b] = this.propagationMs;
    const jitter = (b - a) / 10;
    const draw = seededRandom(`${this.seed}/node/${node}/jitter/${height}`)();
    return Math.min(b, Math.max(a, this.baseDelayMs(node) + (draw * 2 - 1) * jitter));
  }

  /** Whether the node starts behind the chain and syncs to it. */
  startsSyncing(node: number): boolean {
    return this.syncing > 0 && seededRandom(`${this.seed}/node/${node}/syncing`)() < this.syncing;
  }

  initialState(node: number): NodeChainState {
    let best = this.baseHeight;
    if (this.startsSyncing(node)) {
      const draw = seededRandom(`${this.seed}/node/${node}/backlog`)();
      best -= Math.round(between(draw, this.syncBacklog));
    }
    const finalized = Math.max(0, best - this.finalityLag);
    return { bestHeight: best, bestHash: this.canonicalHash(best), finalizedHeight: finalized, finalizedHash: this.canonicalHash(finalized) };
  }

  /** The socket's outage in churn period `period`, if it has one. */
  outage(socket: number, period: number): Outage | null {
    if (this.churn === 0 || period < 0) return null;
    const random = seededRandom(`${this.seed}/socket/${socket}/period/${period}`);
    if (random() >= this.churn) return null;
    const length = this.churnPeriodMs;
    const duration = between(random(), this.downtimeMs);
    // Kept inside its period with 5 % margins, so outages of consecutive periods never touch.
    const start = period * length + 0.05 * length + random() * (0.9 * length - duration);
    return { start, end: start + duration };
  }

  /** The first outage of the socket that ends after `t`, searching a bounded number of periods ahead. */
  nextOutage(socket: number, t: number): Outage | null {
    if (this.churn === 0) return null;
    const first = Math.max(0, Math.floor(t / this.churnPeriodMs));
    for (let period = first; period < first + 10_000; period++) {
      const outage = this.outage(socket, period);
      if (outage && outage.end > t) return outage;
    }
    return null;
  }

  isOnline(node: number, t: number): boolean {
    const outage = this.outage(this.socketOf(node), Math.floor(t / this.churnPeriodMs));
    return outage === null || t < outage.start || t >= outage.end;
  }

  /** Whether the node is one of those that see block `height`'s fork block, and whether it then re-orgs to the canonical one. */
  forkView(node: number, height: number): { member: boolean; reorg: boolean; reorgDelayMs: number } {
    const random = seededRandom(`${this.seed}/node/${node}/fork/${height}`);
    const member = random() < this.forkShare;
    const reorg = random() < 0.5;
    return { member, reorg, reorgDelayMs: (0.1 + 0.2 * random()) * this.blockTimeMs };
  }

  private finalityDelay(node: number, height: number): number {
    return between(seededRandom(`${this.seed}/node/${node}/finality/${height}`)(), this.finalityDelayMs);
  }

  private syncReported(node: number, height: number): boolean {
    return seededRandom(`${this.seed}/node/${node}/sync/${height}`)() < SYNC_REPORT_SHARE;
  }

  /**
   * How a following node imports block `height`: one import, or a fork block then maybe the canonical
   * one. The node authors the block only if it was already following when the block was produced.
   */
  private importPlan(node: number, height: number, after: number, followingSince: number): Array<Extract<NodeEvent, { kind: 'import' }>> {
    const block = this.block(height);
    // A child is never imported before its parent: an import comes at least 1 ms after the previous one.
    const notBefore = (t: number) => Math.max(t, after + 1);
    const imported = (at: number, hash: string, origin: BlockOrigin) => ({ kind: 'import' as const, at, height, hash, origin, reported: true });
    if (block.authorNode === node && block.producedAt >= followingSince) return [imported(notBefore(block.producedAt), block.hash, 'Own')];
    const delay = this.delayMs(node, height);
    if (block.fork) {
      const view = this.forkView(node, height);
      if (view.member) {
        const forkAt = notBefore(block.fork.producedAt + delay);
        const plan = [imported(forkAt, block.fork.hash, 'NetworkBroadcast')];
        if (view.reorg) plan.push(imported(forkAt + view.reorgDelayMs, block.hash, 'NetworkBroadcast'));
        return plan;
      }
    }
    return [imported(notBefore(block.producedAt + delay), block.hash, 'NetworkBroadcast')];
  }

  /**
   * Everything that happens to the node, in time order, forever. Following nodes import each block
   * after their delay and finalize `finalityLag` below it; an outage takes the node offline, and
   * once back it syncs (reporting ~10 % of the caught-up blocks as NetworkInitialSync) until the
   * chain's next block reaches it by broadcast, then follows again.
   */
  *timeline(node: number): Generator<NodeEvent, never, undefined> {
    const socket = this.socketOf(node);
    const initial = this.initialState(node);
    let best = initial.bestHeight;
    let finalizedScheduled = initial.finalizedHeight;
    let lastFinalizedAt = -Infinity;
    let cursor = 0;
    let mode: 'following' | 'syncing' = this.startsSyncing(node) ? 'syncing' : 'following';
    const peering = (after: number) => after + between(seededRandom(`${this.seed}/node/${node}/peering/${after}`)(), PEERING_MS);
    let syncAt = mode === 'syncing' ? peering(0) : 0;
    let nextHeight = best + 1;
    let followingSince = mode === 'following' ? 0 : Infinity;
    let planned: Array<Extract<NodeEvent, { kind: 'import' }>> = [];
    const pending: Array<Extract<NodeEvent, { kind: 'finalized' }>> = [];
    let outage = this.nextOutage(socket, 0);

    const scheduleFinality = (height: number, importedAt: number, delayKey: number) => {
      if (height <= finalizedScheduled) return;
      finalizedScheduled = height;
      const at = importedAt + this.finalityDelay(node, delayKey);
      const last = pending[pending.length - 1];
      if (last && at <= last.at) {
        // Finalized before the previous notification went out: one batch, reported by its last block.
        last.height = height;
        last.hash = this.canonicalHash(height);
        return;
      }
      lastFinalizedAt = Math.max(at, lastFinalizedAt);
      pending.push({ kind: 'finalized', at: lastFinalizedAt, height, hash: this.canonicalHash(height) });
    };

    for (;;) {
      if (mode === 'following' && planned.length === 0) planned = this.importPlan(node, nextHeight++, cursor, followingSince);
      const nextAt = mode === 'following' ? planned[0].at : syncAt;
      // Finality notifications due before the next import go first.
      const horizon = outage && outage.start <= nextAt ? outage.start : nextAt;
      while (pending.length > 0 && pending[0].at <= horizon) yield pending.shift()!;

      if (outage && outage.start <= nextAt) {
        pending.length = 0; // the node is down before it gets to them
        yield { kind: 'offline', at: Math.max(outage.start, cursor) };
        yield { kind: 'online', at: outage.end };
        cursor = outage.end;
        mode = 'syncing';
        followingSince = Infinity;
        syncAt = peering(outage.end);
        planned = [];
        nextHeight = best + 1;
        outage = this.nextOutage(socket, outage.end);
        continue;
      }

      if (mode === 'following') {
        const event = planned.shift()!;
        yield event;
        cursor = event.at;
        best = event.height;
        scheduleFinality(event.height - this.finalityLag, event.at, event.height);
        continue;
      }

      const height = best + 1;
      const block = this.block(height);
      if (block.producedAt + this.delayMs(node, height) >= syncAt) {
        // Caught up: this block will come by broadcast. GRANDPA finalizes what was synced.
        mode = 'following';
        followingSince = syncAt;
        nextHeight = height;
        scheduleFinality(best - this.finalityLag, syncAt, best);
        cursor = Math.max(cursor, syncAt);
        continue;
      }
      yield { kind: 'import', at: syncAt, height, hash: block.hash, origin: 'NetworkInitialSync', reported: this.syncReported(node, height) };
      cursor = syncAt;
      best = height;
      syncAt += 1000 / this.syncBlocksPerSecond;
    }
  }

  /** The node's events with `at` ≤ `until` (for tests and tools; the runtime pulls the timeline itself). */
  eventsUntil(node: number, until: number): NodeEvent[] {
    const events: NodeEvent[] = [];
    for (const event of this.timeline(node)) {
      if (event.at > until) break;
      events.push(event);
    }
    return events;
  }
}
