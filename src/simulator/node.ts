// One simulated tetcore node: its telemetry schedule and the websocket it streams over, with the
// node's connection state machine, 16-message queue and reconnect delay. Facts in docs/wire-protocol.md:
// system.interval and its timing, Rates and sizes, Handshake, Send queue and loss at the node, Nodes
// never read, Disconnect and reconnection.

import WebSocket from 'ws';
import * as m from './messages.js';
import { describeDialError } from './dial-errors.js';

export type Role = 'validator' | 'full';

/** Settings shared by every node of a run (kept in one object so per-node memory stays small). */
export interface SharedConfig {
  url: string;
  verbosity: number;
  role: Role;
  /** GRANDPA voter count V (docs/wire-protocol.md#rates-and-sizes). */
  validators: number;
  /** SS58 addresses of the V voters. */
  authorities: string[];
  /** Messages/s per node with the natural mix; replaces the natural schedule when set. */
  rate?: number;
  /** txpool.import per second per node (0 = idle chain). */
  txRate: number;
  /** Simulated time runs this many times faster than wall time (schedules and reconnect delay). */
  timeScale: number;
  /** Whole seconds, uniform, inclusive (5..9 on a real node). */
  reconnectDelaySec: [number, number];
  /** Read the socket: answer pings and close frames. A real node does neither. */
  polite: boolean;
  /** Messages allowed in flight before new ones are dropped (16 on a real node). */
  maxPending: number;
  networkState: m.NetworkStateTemplate;
  /** Set in V1 mode: replay these fixture messages verbatim instead of building V2 frames. */
  v1Templates?: Map<string, m.V1Template>;
  /** Seed of block hashes: every node of the run reports the same hash for the same height. */
  chainSeed: string;
  /** Wall-clock ms at which the chain was at `baseHeight`; nodes derive their height from it. */
  chainStartMs: number;
  baseHeight: number;
  /** Told the outcome of every dial: connected, or why not (one line, see dial-errors.ts). */
  onDial?: (outcome: DialOutcome) => void;
}

export type DialOutcome = { ok: true } | { ok: false; reason: string };

/** What one node put on the wire, for checking a server's database against. */
export interface NodeSentRecord {
  node: number;
  socket: number;
  /** Decimal text (may exceed 2^53); null in V1 mode, which has no envelope. */
  envelopeId: string | null;
  networkId: string;
  name: string;
  /** Frames written successfully to the socket, per `msg`. */
  sent: Record<string, number>;
  total: number;
  bytes: number;
  lastTs: string | null;
  /** Times the connection was lost or a dial failed. */
  reconnects: number;
  /** Dropped because more than `maxPending` messages were in flight. */
  dropped: number;
  /** Produced while not connected (discarded, as a real node does). */
  discarded: number;
}

const BLOCK_MS = 3000;
const METRICS_MS = 5000;
const ROUND_MS = 1600;
/** Rate-mode timers fire at most every 10 ms; faster rates send several messages per firing. */
const MIN_RATE_TICK_MS = 10;

// Wall clock with nanosecond digits: Date gives ms, hrtime the sub-ms part.
const clockAnchorMs = Date.now();
const clockAnchorHr = process.hrtime.bigint();
export function wallClockNanos(): bigint {
  return BigInt(clockAnchorMs) * 1_000_000n + (process.hrtime.bigint() - clockAnchorHr);
}

/**
 * A message kind: the wire `msg`, except the two halves of system.interval which share one msg,
 * and afg.finalized which only the V1 fixture has.
 */
export type Kind =
  | 'system.interval:chain' | 'system.interval:network' | 'system.network_state'
  | 'block.import' | 'notify.finalized' | 'txpool.import'
  | 'afg.authority_set' | 'afg.received_prevote' | 'afg.received_precommit' | 'afg.received_propose'
  | 'afg.received_commit' | 'afg.finalized_blocks_up_to' | 'afg.finalized'
  | 'prepared_block_for_proposing' | 'slots.pre_sealed_block'
  | 'slots.starting_authorship' | 'afg.prevote_issued' | 'afg.precommit_issued'
  | 'afg.announcing_blocks_to_voted_peers' | 'afg.commit_issued'
  | 'babe.checked_and_importing';

const msgOf = (kind: Kind) => kind.split(':')[0] as string;

/** Per-second rates of each kind on a healthy 3 s-block chain (docs/wire-protocol.md#rates-and-sizes), used as the mix in rate mode. */
export function naturalRates(verbosity: number, role: Role, validators: number, txRate: number): Array<[Kind, number]> {
  const validator = role === 'validator';
  const blocks = 1000 / BLOCK_MS;
  const rounds = 1000 / ROUND_MS;
  const ownBlocks = validator ? blocks / validators : 0;
  const rates: Array<[Kind, number]> = [
    ['system.interval:chain', 0.2], ['system.interval:network', 0.2], ['system.network_state', 1 / 30],
    ['block.import', blocks], ['notify.finalized', blocks], ['txpool.import', txRate],
  ];
  if (verbosity >= 1) {
    rates.push(['afg.finalized_blocks_up_to', blocks], ['prepared_block_for_proposing', ownBlocks], ['slots.pre_sealed_block', ownBlocks]);
    if (validators <= 10) {
      const votes = validator ? validators - 1 : validators;
      rates.push(['afg.received_prevote', votes * rounds], ['afg.received_precommit', votes * rounds],
        ['afg.received_propose', rounds], ['afg.received_commit', rounds]);
    }
  }
  if (verbosity >= 5 && validator) {
    rates.push(['afg.prevote_issued', rounds], ['afg.precommit_issued', rounds], ['afg.announcing_blocks_to_voted_peers', 2 * rounds],
      ['afg.commit_issued', rounds / 2], ['slots.starting_authorship', ownBlocks]);
  }
  if (verbosity >= 9) rates.push(['babe.checked_and_importing', blocks - ownBlocks]);
  return rates.filter(([, rate]) => rate > 0);
}

/** The rate-mode mix as cumulative weights, limited to kinds the mode can send (V1: the fixture's). */
export function cumulativeRateMix(config: SharedConfig): Array<[Kind, number]> {
  const sendable = ([kind]: [Kind, number]) =>
    config.v1Templates === undefined ? kind !== 'afg.finalized' : kind !== 'system.interval:network' && config.v1Templates.has(msgOf(kind));
  let total = 0;
  return naturalRates(config.verbosity, config.role, config.validators, config.txRate)
    .filter(sendable)
    .map(([kind, rate]): [Kind, number] => [kind, (total += rate)]);
}

/** GRANDPA messages of one round in the order they happen, spread evenly over the round. */
function roundPlan(verbosity: number, role: Role, validators: number): Kind[] {
  if (verbosity < 1) return [];
  const issuing = verbosity >= 5 && role === 'validator';
  const received = validators <= 10; // nodes stop reporting received votes in larger voter sets (docs/wire-protocol.md#message-types)
  const votes = role === 'validator' ? validators - 1 : validators;
  const repeat = (kind: Kind, count: number): Kind[] => (received ? Array<Kind>(count).fill(kind) : []);
  return [
    ...repeat('afg.received_propose', 1),
    ...(issuing ? ['afg.prevote_issued', 'afg.announcing_blocks_to_voted_peers'] as Kind[] : []),
    ...repeat('afg.received_prevote', votes),
    ...(issuing ? ['afg.precommit_issued', 'afg.announcing_blocks_to_voted_peers'] as Kind[] : []),
    ...repeat('afg.received_precommit', votes),
    ...(issuing ? ['afg.commit_issued'] as Kind[] : []),
    ...repeat('afg.received_commit', 1),
  ];
}

type SocketState = 'idle' | 'dialing' | 'ready' | 'open' | 'backoff' | 'stopped';

/**
 * The node's telemetry connection (docs/wire-protocol.md#disconnect-and-reconnection): it only advances when a message is routed to it. The
 * first message while idle starts the dial and is discarded; the socket is adopted on the next
 * message, which is then preceded by every node's system.connected.
 */
export class TelemetrySocket {
  readonly nodes: SimulatedNode[] = [];
  private state: SocketState = 'idle';
  private ws: WebSocket | undefined;
  private inFlight = 0;
  /** Bumped per connection so send callbacks of a dead socket don't touch the new one's counter. */
  private generation = 0;
  private backoffTimer: NodeJS.Timeout | undefined;

  constructor(private readonly config: SharedConfig) {}

  get isConnected(): boolean {
    return this.state === 'ready' || this.state === 'open';
  }

  submit(node: SimulatedNode, msg: string, build: (ts: string) => string): void {
    if (this.state === 'idle') this.dial();
    const adopting = this.state === 'ready';
    if (adopting) this.adopt();
    if (this.state !== 'open') {
      node.record.discarded++;
      return;
    }
    if (this.inFlight >= this.config.maxPending) {
      node.record.dropped++;
    } else {
      this.write(node, msg, build);
    }
    // GRANDPA's "telemetry connected" notifier re-announces the authority set (docs/wire-protocol.md#disconnect-and-reconnection).
    if (adopting) for (const each of this.nodes) each.onTelemetryConnected();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.backoffTimer);
    // Let frames already handed to ws reach the kernel, so the sent records match what the server got.
    const deadline = Date.now() + 2000;
    while (this.inFlight > 0 && this.ws !== undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // A real node sends no close frame: just drop the TCP connection.
    this.ws?.terminate();
    this.ws = undefined;
  }

  private dial(): void {
    this.state = 'dialing';
    const url = new URL(this.config.url);
    const port = url.port || (url.protocol === 'wss:' ? '443' : '80');
    const ws = new WebSocket(this.config.url, {
      perMessageDeflate: false, // no extensions offered
      autoPong: this.config.polite,
      followRedirects: false,
      handshakeTimeout: 20_000,
      headers: { Host: `${url.hostname}:${port}` }, // the node always writes the port (docs/wire-protocol.md#handshake)
    });
    this.ws = ws;
    let failure: string | null = null;
    ws.on('open', () => {
      if (this.ws !== ws || this.state !== 'dialing') return;
      // A real node never polls the receive half: pings and close frames stay unread and a
      // server-side close is only noticed when a later write fails (docs/wire-protocol.md#nodes-never-read).
      if (!this.config.polite) ws.pause();
      this.state = 'ready';
      this.config.onDial?.({ ok: true });
    });
    // Always followed by 'close'; a failure while dialing is reported there.
    ws.on('error', (error: Error & { code?: string }) => {
      if (this.ws === ws && this.state === 'dialing') failure = describeDialError(error, this.config.url);
    });
    ws.on('close', () => {
      if (failure !== null) this.config.onDial?.({ ok: false, reason: failure });
      if (this.ws === ws) this.lost();
    });
  }

  private adopt(): void {
    this.state = 'open';
    if (this.config.v1Templates) return; // the V1 fixture has no system.connected
    for (const node of this.nodes) {
      this.write(node, 'system.connected', (ts) => m.frame(node.envelopeId, ts, m.systemConnected(node.identity)));
    }
  }

  private write(node: SimulatedNode, msg: string, build: (ts: string) => string): void {
    const ts = m.formatTs(wallClockNanos());
    const data = Buffer.from(build(ts));
    const generation = this.generation;
    this.inFlight++;
    this.ws!.send(data, { binary: true }, (error) => {
      if (generation === this.generation) this.inFlight--;
      if (error) return; // the 'close' handler takes care of the connection
      const record = node.record;
      record.sent[msg] = (record.sent[msg] ?? 0) + 1;
      record.total++;
      record.bytes += data.length;
      record.lastTs = ts;
    });
  }

  /** Any error or close: forget what is pending, wait a random whole number of seconds, then go idle. */
  private lost(): void {
    if (this.state === 'stopped') return;
    this.ws?.terminate();
    this.ws = undefined;
    this.generation++;
    this.inFlight = 0;
    this.state = 'backoff';
    for (const node of this.nodes) node.record.reconnects++;
    const [min, max] = this.config.reconnectDelaySec;
    const seconds = min + Math.floor(Math.random() * (max - min + 1));
    this.backoffTimer = setTimeout(() => {
      if (this.state === 'backoff') this.state = 'idle';
    }, (seconds * 1000) / this.config.timeScale);
  }
}

/** One node (one envelope id): produces its messages on schedule and routes them to its socket. */
export class SimulatedNode {
  private readonly timers: NodeJS.Timeout[] = [];
  private height = 0;
  private ownBlock = false;
  private round = 0;
  private metricsTicks = 0;
  private voterCursor = 0;
  private txReady = 0;
  private rateCredit = 0;

  constructor(
    readonly envelopeId: string,
    readonly identity: m.NodeIdentity,
    /** Index among the voters if this node is one of them, else -1. */
    private readonly voterIndex: number,
    readonly record: NodeSentRecord,
    private readonly socket: TelemetrySocket,
    private readonly config: SharedConfig,
    /** Cumulative weights of the rate-mode mix (cumulativeRateMix), shared by all nodes. */
    private readonly rateMix: Array<[Kind, number]> = [],
  ) {}

  start(): void {
    const { config } = this;
    const simulatedElapsed = (Date.now() - config.chainStartMs) * config.timeScale;
    this.height = config.baseHeight + Math.floor(simulatedElapsed / BLOCK_MS);
    if (config.verbosity >= 1) this.emit('afg.authority_set'); // the voter is built at start-up
    if (config.rate !== undefined && config.rate > 0) {
      const tickMs = Math.max(1000 / config.rate, MIN_RATE_TICK_MS);
      this.every(Math.random() * tickMs, tickMs, () => this.rateTick((config.rate! * tickMs) / 1000));
      return;
    }
    this.every(0, METRICS_MS, () => this.metricsTick());
    // Blocks arrive at the same moment on every node of the chain, plus a propagation delay.
    this.every(BLOCK_MS - (simulatedElapsed % BLOCK_MS) + Math.random() * 400, BLOCK_MS, () => this.blockTick());
    const plan = roundPlan(config.verbosity, config.role, config.validators);
    if (plan.length > 0) {
      let step = 0;
      this.every(Math.random() * ROUND_MS, ROUND_MS / plan.length, () => {
        if (step === 0) this.round++;
        const kind = plan[step]!;
        step = (step + 1) % plan.length;
        if (kind !== 'afg.commit_issued' || this.round % 2 === 0) this.emit(kind); // ≤ 1 commit per round
      });
    }
    if (config.txRate > 0) {
      this.every(Math.random() * (1000 / config.txRate), 1000 / config.txRate, () => this.emit('txpool.import'));
    }
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.length = 0;
  }

  onTelemetryConnected(): void {
    if (this.config.verbosity >= 1) this.emit('afg.authority_set');
  }

  /** Runs `action` after `firstDelayMs` and then every `periodMs` (simulated ms). */
  private every(firstDelayMs: number, periodMs: number, action: () => void): void {
    const scale = this.config.timeScale;
    this.timers.push(setTimeout(() => {
      action();
      this.timers.push(setInterval(action, periodMs / scale));
    }, firstDelayMs / scale));
  }

  /** docs/wire-protocol.md#systeminterval-and-its-timing: chain part every tick; network part from the 2nd tick; network state every 6th tick (≈30 s). */
  private metricsTick(): void {
    const tick = this.metricsTicks++;
    this.emit('system.interval:chain');
    if (tick > 0) this.emit('system.interval:network');
    if (tick > 0 && tick % 6 === 0) this.emit('system.network_state');
  }

  private blockTick(): void {
    this.newBestBlock();
    const { verbosity } = this.config;
    if (this.ownBlock && verbosity >= 5) this.emit('slots.starting_authorship');
    if (this.ownBlock && verbosity >= 1) {
      this.emit('prepared_block_for_proposing');
      this.emit('slots.pre_sealed_block');
    }
    if (!this.ownBlock && verbosity >= 9) this.emit('babe.checked_and_importing');
    this.emit('block.import');
    this.emit('notify.finalized');
    if (verbosity >= 1) {
      this.emit('afg.finalized_blocks_up_to');
      this.emit('afg.finalized'); // V1 replay only
    }
  }

  private newBestBlock(): void {
    this.height++;
    this.ownBlock = this.voterIndex >= 0 && Math.random() < 1 / this.config.validators;
  }

  private rateTick(expected: number): void {
    this.rateCredit += expected;
    const mix = this.rateMix;
    const totalWeight = mix[mix.length - 1]?.[1] ?? 0;
    for (; this.rateCredit >= 1; this.rateCredit--) {
      const draw = Math.random() * totalWeight;
      const kind = (mix.find(([, cumulative]) => draw < cumulative) ?? mix[mix.length - 1])?.[0];
      if (kind === undefined) return;
      if (kind === 'block.import') this.newBestBlock();
      this.emit(kind);
    }
  }

  private emit(kind: Kind): void {
    const msg = msgOf(kind);
    const { v1Templates, networkState } = this.config;
    if (v1Templates) {
      // The 2020 interval carried both parts in one message; other kinds only if the fixture has them.
      const template = kind === 'system.interval:network' ? undefined : v1Templates.get(msg);
      if (template) this.socket.submit(this, msg, (ts) => m.v1Frame(template, ts));
      return;
    }
    if (kind === 'afg.finalized') return; // not emitted by tetcore
    if (kind === 'system.network_state') {
      this.socket.submit(this, msg, (ts) => m.networkStateFrame(networkState, this.envelopeId, ts, this.identity.networkId));
      return;
    }
    this.socket.submit(this, msg, (ts) => m.frame(this.envelopeId, ts, this.payload(kind)));
  }

  private payload(kind: Exclude<Kind, 'system.network_state' | 'afg.finalized'>): m.Payload {
    const { config } = this;
    const best = this.height;
    const finalized = Math.max(0, best - 2);
    const hash = (height: number) => m.hashHex(config.chainSeed, height);
    const nextVoter = () => {
      let voter = this.voterCursor++ % config.validators;
      if (voter === this.voterIndex) voter = this.voterCursor++ % config.validators;
      return config.authorities[voter]!;
    };
    const slot = Math.floor(Date.now() / BLOCK_MS);
    switch (kind) {
      case 'system.interval:chain':
        return m.intervalChainPart({
          best: hash(best), finalizedHash: hash(finalized), finalizedHeight: finalized, height: best,
          txcount: this.txReady, usedStateCacheSize: 8_376_854 + (best % 64) * 4096,
        });
      case 'system.interval:network':
        return m.intervalNetworkPart({
          bandwidthDownload: 15_000 + Math.floor(Math.random() * 8000),
          bandwidthUpload: 17_000 + Math.floor(Math.random() * 8000),
          peers: config.networkState.connectedPeers,
        });
      case 'block.import':
        return m.blockImport(hash(best), best, this.ownBlock ? 'Own' : 'NetworkBroadcast');
      case 'notify.finalized':
        return m.notifyFinalized(hash(finalized), finalized);
      case 'txpool.import':
        this.txReady++;
        return m.txpoolImport(this.txReady, 0);
      case 'afg.authority_set':
        return m.afgAuthoritySet({
          authorities: config.authorities,
          authorityId: config.authorities[this.voterIndex] ?? m.NON_VALIDATOR_AUTHORITY_ID,
          setId: 0,
        });
      case 'afg.received_prevote':
        return m.afgReceivedVote('prevote', hash(best), best, nextVoter());
      case 'afg.received_precommit':
        return m.afgReceivedVote('precommit', hash(best), best, nextVoter());
      case 'afg.received_propose':
        return m.afgReceivedVote('propose', hash(best), best, nextVoter());
      case 'afg.received_commit':
        return m.afgReceivedCommit(hash(finalized), finalized,
          config.authorities.slice(0, Math.floor((2 * config.validators) / 3) + 1));
      case 'afg.finalized_blocks_up_to':
        return m.afgFinalizedBlocksUpTo(hash(finalized), finalized);
      case 'prepared_block_for_proposing':
        return m.preparedBlockForProposing(hash(best), best);
      case 'slots.pre_sealed_block':
        return m.slotsPreSealedBlock(m.hashHex(config.chainSeed, 'sealed', best), hash(best), best);
      case 'slots.starting_authorship':
        return m.slotsStartingAuthorship(slot, slot * BLOCK_MS);
      case 'afg.prevote_issued':
        return m.afgVoteIssued('prevote', this.round, hash(best), best);
      case 'afg.precommit_issued':
        return m.afgVoteIssued('precommit', this.round, hash(best), best);
      case 'afg.announcing_blocks_to_voted_peers':
        return m.afgAnnouncingBlocksToVotedPeers(hash(best), this.round, 0);
      case 'afg.commit_issued':
        return m.afgCommitIssued(hash(finalized), finalized);
      case 'babe.checked_and_importing':
        return m.babeCheckedAndImporting({
          parentHash: hash(best - 1), number: best,
          stateRoot: m.hashHex(config.chainSeed, 'state', best), extrinsicsRoot: m.hashHex(config.chainSeed, 'extrinsics', best),
        });
    }
  }
}
