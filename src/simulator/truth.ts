// Ground truth of a network run: what each simulated node actually wrote to its socket (block imports,
// finality reports, connection sessions) and the chain's blocks, for checking analytics against.
// The format is documented in docs/simulator.md.

import type { NetworkModel } from './network.js';

export const TRUTH_FORMAT = 'tetcore-simulator-truth/1';

export interface TruthSession {
  /** The node started dialing (the server creates its connection row between this and connected_at). */
  dialed_at: string;
  /** The websocket handshake completed. */
  connected_at: string;
  /** system.connected was written on it (null if nothing was sent before it ended). */
  announced_at: string | null;
  /** The connection ended (outage, loss, end of run); null while still open. */
  disconnected_at: string | null;
}

export interface TruthImport {
  height: number;
  hash: string;
  origin: string;
  /** Instant the frame was handed to the socket; equals its `ts` to the millisecond. */
  sent_at: string;
}

export interface TruthFinalized {
  height: number;
  hash: string;
  sent_at: string;
}

export interface TruthNode {
  peer_id: string;
  name: string;
  chain: string;
  genesis_hash: string;
  /** Decimal text of the envelope id. */
  envelope_id: string;
  authority: boolean;
  sessions: TruthSession[];
  block_imports: TruthImport[];
  finalized: TruthFinalized[];
}

export interface TruthBlock {
  height: number;
  hash: string;
  parent_hash: string;
  /** Wall-clock instant the simulated chain produced it (before the run for blocks that already existed). */
  produced_at: string;
  kind: 'canonical' | 'fork';
  /** Peer id of the simulated node that authored it, or null (an author outside the simulation). */
  author: string | null;
}

export interface GroundTruth {
  format: typeof TRUTH_FORMAT;
  seed: string;
  chain: string;
  genesis_hash: string;
  started_at: string;
  /** null while the run is going on. */
  stopped_at: string | null;
  parameters: {
    block_time_s: number;
    propagation_ms: [number, number];
    finality_lag: number;
    finality_delay_ms: [number, number];
    fork_rate: number;
    churn: number;
    churn_period_s: number;
    downtime_s: [number, number];
    syncing: number;
    time_scale: number;
    base_height: number;
    verbosity: number;
  };
  blocks: TruthBlock[];
  nodes: TruthNode[];
}

export interface TruthIdentity {
  peerId: string;
  name: string;
  chain: string;
  genesisHash: string;
  envelopeId: string;
  authority: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();
const nanosToMs = (nanos: bigint) => Number(nanos / 1_000_000n);

/** What one node sent, kept as numbers until the truth is rendered. */
export class NodeTruthRecorder {
  private readonly sessions: Array<{ dialed: number; connected: number; announced: number | null; disconnected: number | null }> = [];
  private readonly imports: Array<{ height: number; hash: string; origin: string; sentMs: number }> = [];
  private readonly finalized: Array<{ height: number; hash: string; sentMs: number }> = [];
  /** Heights of the blocks this node authored (imported as Own), whether or not the report got out. */
  readonly authored = new Set<number>();

  constructor(readonly identity: TruthIdentity) {}

  sessionOpened(dialedMs: number, ms: number): void {
    this.sessionClosed(ms);
    this.sessions.push({ dialed: dialedMs, connected: ms, announced: null, disconnected: null });
  }

  sessionAnnounced(tsNanos: bigint): void {
    const session = this.sessions[this.sessions.length - 1];
    if (session && session.disconnected === null && session.announced === null) session.announced = nanosToMs(tsNanos);
  }

  sessionClosed(ms: number): void {
    const session = this.sessions[this.sessions.length - 1];
    if (session && session.disconnected === null) session.disconnected = ms;
  }

  importSent(height: number, hash: string, origin: string, tsNanos: bigint): void {
    this.imports.push({ height, hash, origin, sentMs: nanosToMs(tsNanos) });
  }

  finalizedSent(height: number, hash: string, tsNanos: bigint): void {
    this.finalized.push({ height, hash, sentMs: nanosToMs(tsNanos) });
  }

  /** Lowest and highest block height this node reported, or null. */
  heightRange(): [number, number] | null {
    let low = Infinity;
    let high = -Infinity;
    for (const { height } of [...this.imports, ...this.finalized]) {
      low = Math.min(low, height);
      high = Math.max(high, height);
    }
    return low === Infinity ? null : [low, high];
  }

  render(): TruthNode {
    const { identity } = this;
    // Send callbacks may complete out of order across sockets, never within one: sort anyway for readers.
    const bySentAt = <T extends { sentMs: number }>(list: T[]) => [...list].sort((a, b) => a.sentMs - b.sentMs);
    return {
      peer_id: identity.peerId,
      name: identity.name,
      chain: identity.chain,
      genesis_hash: identity.genesisHash,
      envelope_id: identity.envelopeId,
      authority: identity.authority,
      sessions: this.sessions.map((s) => ({
        dialed_at: iso(s.dialed),
        connected_at: iso(s.connected),
        announced_at: s.announced === null ? null : iso(s.announced),
        disconnected_at: s.disconnected === null ? null : iso(s.disconnected),
      })),
      block_imports: bySentAt(this.imports).map((i) => ({ height: i.height, hash: i.hash, origin: i.origin, sent_at: iso(i.sentMs) })),
      finalized: bySentAt(this.finalized).map((f) => ({ height: f.height, hash: f.hash, sent_at: iso(f.sentMs) })),
    };
  }
}

export function renderTruth(fields: {
  model: NetworkModel;
  recorders: NodeTruthRecorder[];
  chain: string;
  genesisHash: string;
  timeScale: number;
  verbosity: number;
  /** Wall-clock ms of simulated time 0. */
  chainStartMs: number;
  startedMs: number;
  stoppedMs: number | null;
}): GroundTruth {
  const { model, recorders } = fields;
  const wallOf = (simMs: number) => fields.chainStartMs + simMs / fields.timeScale;
  const simEnd = ((fields.stoppedMs ?? Date.now()) - fields.chainStartMs) * fields.timeScale;
  let low = model.baseHeight;
  let high = model.tipAt(simEnd);
  for (const recorder of recorders) {
    const range = recorder.heightRange();
    if (range) {
      low = Math.min(low, range[0]);
      high = Math.max(high, range[1]);
    }
  }
  // The model's author of a height authors it only if it was following at the time: ask the node.
  const authorOf = (height: number, node: number | null) =>
    node !== null && recorders[node]?.authored.has(height) ? recorders[node].identity.peerId : null;
  const blocks: TruthBlock[] = [];
  for (let height = low; height <= high; height++) {
    const block = model.block(height);
    blocks.push({
      height, hash: block.hash, parent_hash: block.parentHash, produced_at: iso(wallOf(block.producedAt)),
      kind: 'canonical', author: authorOf(height, block.authorNode),
    });
    if (block.fork) {
      blocks.push({
        height, hash: block.fork.hash, parent_hash: block.parentHash, produced_at: iso(wallOf(block.fork.producedAt)),
        kind: 'fork', author: null,
      });
    }
  }
  return {
    format: TRUTH_FORMAT,
    seed: model.seed,
    chain: fields.chain,
    genesis_hash: fields.genesisHash,
    started_at: iso(fields.startedMs),
    stopped_at: fields.stoppedMs === null ? null : iso(fields.stoppedMs),
    parameters: {
      block_time_s: model.blockTimeMs / 1000,
      propagation_ms: model.propagationMs,
      finality_lag: model.finalityLag,
      finality_delay_ms: model.finalityDelayMs,
      fork_rate: model.forkRate,
      churn: model.churn,
      churn_period_s: model.churnPeriodMs / 1000,
      downtime_s: [model.downtimeMs[0] / 1000, model.downtimeMs[1] / 1000],
      syncing: model.syncing,
      time_scale: fields.timeScale,
      base_height: model.baseHeight,
      verbosity: fields.verbosity,
    },
    blocks,
    nodes: recorders.map((recorder) => recorder.render()),
  };
}
