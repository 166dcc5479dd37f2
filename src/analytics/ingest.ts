// Ingestion side of network analytics: the writer asks it for the fact of each message it accepts (with the
// node's identity and the receipt time of that moment), for the rows to write with each batch, inside the
// batch's transaction, and, once the batch committed, to record the first reports of blocks and finalized
// heights. Chain ids are looked up (and created) before the transaction and cached.
import type { Logger } from 'pino';
import type { Database, Transaction } from '../storage/database.js';
import type { StoredRow } from '../ingest/frame.js';
import type { NodeHandle } from '../ingest/node.js';
import type { Metrics } from '../metrics/catalogue.js';
import { chainKeyText, ensureChains, firstReportsOf, recordFacts, recordFirstReports, type ChainKey, type FactRow } from '../storage/analytics-write.js';
import { deriveFact, initialState, type ConnectionState, type Fact } from './derive.js';

/** A fact waiting in the writer's queue with its message. */
export interface PendingFact {
  fact: Fact;
  chain: string;
  genesisHash: string | null;
  peerId: string;
  /** Epoch ms: when the server read the frame. */
  receivedAt: number;
  /** The message's created_at (naive UTC text). */
  nodeTs: string;
}

/** Chains whose id is cached at most; past it the cache starts again (ids are re-read, never wrong). */
const MAX_CACHED_CHAINS = 10_000;
/** First reports this process wrote, remembered at most (past it the memory starts again: only more upserts). */
const MAX_REMEMBERED_FIRSTS = 50_000;

interface Written {
  at: string;
  audit: boolean;
}

/** Keeps the rows that could change what this process already wrote (an earlier time, or the audit flag). */
function news<T extends { at: string; audit: boolean }>(rows: T[], keyOf: (row: T) => string, written: Map<string, Written>): T[] {
  return rows.filter((row) => {
    const known = written.get(keyOf(row));
    return known === undefined || row.at < known.at || (row.audit && !known.audit);
  });
}

function remember<T extends { at: string; audit: boolean }>(rows: T[], keyOf: (row: T) => string, written: Map<string, Written>): void {
  if (written.size + rows.length > MAX_REMEMBERED_FIRSTS) written.clear();
  for (const row of rows) {
    const key = keyOf(row);
    const known = written.get(key);
    written.set(key, known === undefined ? { at: row.at, audit: row.audit } : { at: row.at < known.at ? row.at : known.at, audit: row.audit || known.audit });
  }
}

/** Naive UTC text (ms) of an epoch-ms instant. */
export function utcMillisText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23).replace('T', ' ');
}

export class AnalyticsIngest {
  private readonly states = new WeakMap<NodeHandle, ConnectionState>();
  private readonly chainIds = new Map<string, number>();
  private readonly writtenBlocks = new Map<string, Written>();
  private readonly writtenHeights = new Map<string, Written>();

  constructor(
    private readonly metrics: Metrics,
    private readonly log?: Logger,
  ) {}

  /** The fact of a message, once the node has told its chain and peer id (system.connected); else null. */
  derive(node: NodeHandle, row: StoredRow, receivedAt: number): PendingFact | null {
    const { chain, peerId, genesisHash } = node.identity;
    if (chain === undefined || peerId === undefined) return null;
    let state = this.states.get(node);
    if (state === undefined) {
      state = initialState();
      this.states.set(node, state);
    }
    const fact = deriveFact(row.msg, row.logs, state);
    if (fact === null) return null;
    return { fact, chain, genesisHash: genesisHash ?? null, peerId, receivedAt, nodeTs: row.createdAt };
  }

  /** The rows to write for these messages (their nodes' rows exist by now); resolves chain ids first. */
  async factRows(db: Database, pending: Array<{ node: NodeHandle; fact: PendingFact | null }>): Promise<FactRow[]> {
    const withFacts = pending.filter((p) => p.fact !== null) as Array<{ node: NodeHandle; fact: PendingFact }>;
    if (withFacts.length === 0) return [];
    const missing = new Map<string, ChainKey>();
    for (const { fact } of withFacts) {
      const key = chainKeyText(fact.chain, fact.genesisHash);
      if (!this.chainIds.has(key)) missing.set(key, { chain: fact.chain, genesisHash: fact.genesisHash });
    }
    if (missing.size > 0) {
      if (this.chainIds.size + missing.size > MAX_CACHED_CHAINS) this.chainIds.clear();
      for (const [key, id] of await ensureChains(db, [...missing.values()])) this.chainIds.set(key, id);
    }
    return withFacts.map(({ node, fact }) => ({
      chainId: this.chainIds.get(chainKeyText(fact.chain, fact.genesisHash)) as number,
      peerId: fact.peerId,
      connectionId: node.rowId as number,
      audit: node.audit,
      receivedAt: utcMillisText(fact.receivedAt),
      nodeTs: fact.nodeTs,
      fact: fact.fact,
    }));
  }

  /** Writes the rows inside the batch's transaction. */
  async record(tx: Transaction, rows: FactRow[]): Promise<void> {
    await recordFacts(tx, rows);
  }

  /**
   * The batch committed: counts its facts and records the first reports among them that may be news (this
   * process remembers what it wrote: most batches of a block repeat it). Never throws: a failure is logged,
   * and the summary job recomputes each block's first seen from its arrivals anyway.
   */
  async committed(db: Database, rows: FactRow[]): Promise<void> {
    let arrivals = 0;
    for (const row of rows) if (row.fact.kind === 'arrival') arrivals++;
    if (arrivals > 0) this.metrics.analyticsFacts.inc({ kind: 'arrival' }, arrivals);
    if (rows.length > arrivals) this.metrics.analyticsFacts.inc({ kind: 'finality' }, rows.length - arrivals);
    const first = firstReportsOf(rows);
    const blockKey = (b: (typeof first.blocks)[number]) => `${b.chainId}|${b.height}|${b.hash}`;
    const heightKey = (h: (typeof first.heights)[number]) => `${h.chainId}|${h.height}`;
    const blocks = news(first.blocks, blockKey, this.writtenBlocks);
    const heights = news(first.heights, heightKey, this.writtenHeights);
    try {
      await recordFirstReports(db, { blocks, heights });
      remember(blocks, blockKey, this.writtenBlocks);
      remember(heights, heightKey, this.writtenHeights);
    } catch (err) {
      this.log?.warn({ err, blocks: blocks.length, heights: heights.length }, 'could not record first seen of blocks after their batch; the summary job will');
    }
  }
}
