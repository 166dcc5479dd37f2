// One simulated tetcore node: its telemetry schedule (in network mode its blocks, finality
// and outages from the network model's timeline) and the websocket it streams over, with the node's
// connection state machine, 16-message queue and reconnect delay. Facts in docs/wire-protocol.md:
// system.interval and its timing, Rates and sizes, Handshake, Send queue and loss at the node, Nodes
// never read, Disconnect and reconnection.

import WebSocket from 'ws';
import * as m from './messages.js';
import type { NetworkModel, NodeChainState, NodeEvent } from './network.js';
import { networkStateFrame, type NetworkStatePadding, type PeerGraph } from './peers.js';
import type { NodeTruthRecorder } from './truth.js';
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
  /** Set in network mode (the natural V2 schedule): the chain and node timelines the nodes follow. */
  /** Told the outcome of every dial: connected, or why not (one line, see dial-errors.ts). */
  onDial?: (outcome: DialOutcome) => void;
  network?: NetworkRuntime;
}

/** What the nodes of a network run share: the schedule, who peers with whom, everyone's identity. */
export interface NetworkRuntime {
  model: NetworkModel;
  graph: PeerGraph;
  padding: NetworkStatePadding;
  /** Peer id and name of each node, by node index. */
  peerIds: string[];
  names: string[];
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
/** The same clock in ms, so the ground truth's session times and frame times never disagree. */
export function wallClockMs(): number {
  return Number(wallClockNanos() / 1_000_000n);
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
  | 'babe.checked_and_importing' | 'tracing.profiling';

const msgOf = (kind: Kind) => kind.split(':')[0];

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
  // Two spans per block: an import and the block execution inside it (docs/wire-protocol.md, Message types; opt-in on a real node).
  if (verbosity >= 9) rates.push(['babe.checked_and_importing', blocks - ownBlocks], ['tracing.profiling', 2 * blocks]);
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

/** `offline`: the nodes on it are down (network churn); nothing is dialed until they are up again. */
type SocketState = 'idle' | 'dialing' | 'ready' | 'open' | 'backoff' | 'offline' | 'stopped';

/** Called with the frame's `ts` (epoch ns) once the frame has been handed to the socket. */
export type OnSent = (tsNanos: bigint) => void;

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
  /** Going offline, waiting for in-flight frames before dropping the connection. */
  private draining = false;
  private onlineWhenDrained = false;

  constructor(private readonly config: SharedConfig) {}

  get isConnected(): boolean {
    return this.state === 'ready' || this.state === 'open';
  }

  submit(node: SimulatedNode, msg: string, build: (ts: string) => string, onSent?: OnSent): void {
    if (this.state === 'offline') {
      node.record.discarded++;
      return;
    }
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
      this.write(node, msg, build, onSent);
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
    this.sessionsClosed();
  }

  /**
   * The nodes on this socket went down: nothing more is written and the connection drops without a
   * close frame, as when the process is killed. Frames already handed to ws complete first (a few ms
   * on a live connection): a write the kernel took but whose callback was cut short by the drop would
   * reach the server without being in the records.
   */
  goOffline(): void {
    if (this.state === 'offline' || this.state === 'stopped') return;
    clearTimeout(this.backoffTimer);
    this.state = 'offline';
    const ws = this.ws;
    if (ws === undefined) return;
    this.draining = true;
    const deadline = Date.now() + 1000;
    const drop = () => {
      if (this.inFlight > 0 && this.ws === ws && Date.now() < deadline) {
        setTimeout(drop, 1);
        return;
      }
      ws.terminate();
      if (this.ws === ws) {
        this.ws = undefined;
        this.generation++;
        this.inFlight = 0;
        this.sessionsClosed();
      }
      this.draining = false;
      if (this.onlineWhenDrained) {
        this.onlineWhenDrained = false;
        this.goOnline();
      }
    };
    drop();
  }

  /** The nodes are up again: the next message dials. */
  goOnline(): void {
    if (this.draining) {
      this.onlineWhenDrained = true;
      return;
    }
    if (this.state === 'offline') this.state = 'idle';
  }

  private sessionsClosed(): void {
    const now = wallClockMs();
    for (const node of this.nodes) node.truth?.sessionClosed(now);
  }

  private dial(): void {
    this.state = 'dialing';
    const dialedAt = wallClockMs();
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
      const now = wallClockMs();
      for (const node of this.nodes) node.truth?.sessionOpened(dialedAt, now);
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
      this.write(node, 'system.connected', (ts) => m.frame(node.envelopeId, ts, m.systemConnected(node.identity)),
        node.truth && ((tsNanos) => node.truth!.sessionAnnounced(tsNanos)));
    }
  }

  private write(node: SimulatedNode, msg: string, build: (ts: string) => string, onSent?: OnSent): void {
    const tsNanos = wallClockNanos();
    const ts = m.formatTs(tsNanos);
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
      onSent?.(tsNanos);
    });
  }

  /** Any error or close: forget what is pending, wait a random whole number of seconds, then go idle. */
  private lost(): void {
    if (this.state === 'stopped' || this.state === 'offline') return;
    this.ws?.terminate();
    this.ws = undefined;
    this.sessionsClosed();
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

/**
 * One node (one envelope id): produces its messages on schedule and routes them to its socket. In
 * network mode its chain state (best, finalized) follows its timeline in the network model.
 */
export class SimulatedNode {
  /** Periodic activity (metrics, GRANDPA rounds, transactions, legacy blocks), stopped while offline. */
  private readonly timers: NodeJS.Timeout[] = [];
  /** Bumped when the activity stops, so a timer firing at that moment does not re-arm itself. */
  private activityGeneration = 0;
  private eventTimer: NodeJS.Timeout | undefined;
  private timeline: Generator<NodeEvent, never, undefined> | undefined;
  private nextEvent: NodeEvent | undefined;
  private online = true;
  private chain: NodeChainState = { bestHeight: 0, bestHash: '', finalizedHeight: 0, finalizedHash: '' };
  private ownBlock = false;
  private round = 0;
  private metricsTicks = 0;
  private voterCursor = 0;
  private txReady = 0;
  private rateCredit = 0;
  private spanId = 0;
  /** Set when the run keeps a ground truth. */
  truth: NodeTruthRecorder | undefined;

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
    if (config.rate !== undefined && config.rate > 0) {
      this.setLegacyHeight(this.legacyHeightNow());
      if (config.verbosity >= 1) this.emit('afg.authority_set'); // the voter is built at start-up
      const tickMs = Math.max(1000 / config.rate, MIN_RATE_TICK_MS);
      this.every(Math.random() * tickMs, tickMs, () => this.rateTick((config.rate! * tickMs) / 1000));
      return;
    }
    if (config.network) {
      this.startNetwork(config.network);
      return;
    }
    // V1 replay: blocks on a clock shared by every node, each with a random propagation delay.
    const simulatedElapsed = (Date.now() - config.chainStartMs) * config.timeScale;
    this.setLegacyHeight(this.legacyHeightNow());
    this.startActivity();
    this.every(BLOCK_MS - (simulatedElapsed % BLOCK_MS) + Math.random() * 400, BLOCK_MS, () => this.blockTick());
  }

  stop(): void {
    this.stopActivity();
    clearTimeout(this.eventTimer);
    this.eventTimer = undefined;
  }

  onTelemetryConnected(): void {
    if (this.config.verbosity >= 1) this.emit('afg.authority_set');
  }

  /** Metrics, GRANDPA rounds and transactions: what a running node does besides importing blocks. */
  private startActivity(): void {
    const { config } = this;
    this.metricsTicks = 0;
    if (config.verbosity >= 1) this.emit('afg.authority_set'); // the voter is built at start-up
    this.every(0, METRICS_MS, () => this.metricsTick());
    const plan = roundPlan(config.verbosity, config.role, config.validators);
    if (plan.length > 0) {
      let step = 0;
      this.every(Math.random() * ROUND_MS, ROUND_MS / plan.length, () => {
        if (step === 0) this.round++;
        const kind = plan[step];
        step = (step + 1) % plan.length;
        if (kind !== 'afg.commit_issued' || this.round % 2 === 0) this.emit(kind); // ≤ 1 commit per round
      });
    }
    if (config.txRate > 0) {
      this.every(Math.random() * (1000 / config.txRate), 1000 / config.txRate, () => this.emit('txpool.import'));
    }
  }

  private stopActivity(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.length = 0;
    this.activityGeneration++;
  }

  /** Runs `action` after `firstDelayMs` and then every `periodMs` (simulated ms). */
  private every(firstDelayMs: number, periodMs: number, action: () => void): void {
    const scale = this.config.timeScale;
    if (this.config.network) {
      // Network mode keeps to the simulated clock the timelines run on: a late firing (a busy
      // machine) does not push the later ones back, so a node's 6th metrics tick stays 30 s in.
      const slot = this.timers.length;
      const generation = this.activityGeneration;
      const firstWallMs = Date.now() + firstDelayMs / scale;
      let firings = 0;
      const fire = () => {
        action();
        if (generation !== this.activityGeneration) return;
        firings++;
        this.timers[slot] = setTimeout(fire, Math.max(0, firstWallMs + (firings * periodMs) / scale - Date.now()));
      };
      this.timers.push(setTimeout(fire, firstDelayMs / scale));
      return;
    }
    this.timers.push(setTimeout(() => {
      action();
      this.timers.push(setInterval(action, periodMs / scale));
    }, firstDelayMs / scale));
  }

  // ------------------------------------------------------------------------------------------
  // Network mode: the node's timeline drives its chain state and its block messages.

  private simNow(): number {
    return (Date.now() - this.config.chainStartMs) * this.config.timeScale;
  }

  private startNetwork(network: NetworkRuntime): void {
    const index = this.record.node;
    this.chain = network.model.initialState(index);
    this.timeline = network.model.timeline(index);
    this.nextEvent = this.timeline.next().value;
    // Started after the run began (gradual ramp): what happened before only shaped the state.
    const now = this.simNow();
    while (this.nextEvent.at <= now) {
      this.applyEvent(this.nextEvent);
      this.nextEvent = this.timeline.next().value;
    }
    if (this.online) this.startActivity();
    else this.socket.goOffline();
    this.scheduleNextEvent();
  }

  private scheduleNextEvent(): void {
    const wallAt = this.config.chainStartMs + this.nextEvent!.at / this.config.timeScale;
    this.eventTimer = setTimeout(() => this.fireDueEvents(), Math.max(0, wallAt - Date.now()));
  }

  private fireDueEvents(): void {
    const now = this.simNow();
    do {
      this.handleEvent(this.nextEvent!);
      this.nextEvent = this.timeline!.next().value;
    } while (this.nextEvent.at <= now);
    this.scheduleNextEvent();
  }

  private applyEvent(event: NodeEvent): void {
    switch (event.kind) {
      case 'import':
        this.chain.bestHeight = event.height;
        this.chain.bestHash = event.hash;
        this.ownBlock = event.origin === 'Own';
        if (this.ownBlock) this.truth?.authored.add(event.height);
        break;
      case 'finalized':
        this.chain.finalizedHeight = event.height;
        this.chain.finalizedHash = event.hash;
        break;
      case 'offline':
        this.online = false;
        break;
      case 'online':
        this.online = true;
        break;
    }
  }

  private handleEvent(event: NodeEvent): void {
    this.applyEvent(event);
    const { verbosity } = this.config;
    switch (event.kind) {
      case 'import': {
        if (!event.reported) return;
        if (this.ownBlock && verbosity >= 5) this.emit('slots.starting_authorship');
        if (this.ownBlock && verbosity >= 1) {
          this.emit('prepared_block_for_proposing');
          this.emit('slots.pre_sealed_block');
        }
        if (!this.ownBlock && verbosity >= 9) this.emit('babe.checked_and_importing');
        if (verbosity >= 9) this.emitProfilingSpans();
        const { height, hash, origin } = event;
        this.socket.submit(this, 'block.import', (ts) => m.frame(this.envelopeId, ts, m.blockImport(hash, height, origin)),
          this.truth && ((tsNanos) => this.truth!.importSent(height, hash, origin, tsNanos)));
        return;
      }
      case 'finalized': {
        const { height, hash } = event;
        this.socket.submit(this, 'notify.finalized', (ts) => m.frame(this.envelopeId, ts, m.notifyFinalized(hash, height)),
          this.truth && ((tsNanos) => this.truth!.finalizedSent(height, hash, tsNanos)));
        if (verbosity >= 1) this.emit('afg.finalized_blocks_up_to');
        return;
      }
      case 'offline':
        this.stopActivity();
        this.socket.goOffline();
        return;
      case 'online':
        // A restarted process: new startup time, fresh metrics ticks, connects on its first message.
        this.identity.startupTime = String(Date.now());
        this.socket.goOnline();
        this.startActivity();
        return;
    }
  }

  /** The node's peers (other simulated nodes) and whether each is connected now. */
  private peerViews(network: NetworkRuntime) {
    const now = this.simNow();
    return network.graph.neighbours(this.record.node).map((index) => ({
      index,
      peerId: network.peerIds[index],
      name: network.names[index],
      connected: network.model.isOnline(index, now),
    }));
  }

  // ------------------------------------------------------------------------------------------
  // V1 replay and rate mode: a chain of their own, one block after the other.

  private legacyHeightNow(): number {
    const { config } = this;
    return config.baseHeight + Math.floor(((Date.now() - config.chainStartMs) * config.timeScale) / BLOCK_MS);
  }

  private setLegacyHeight(height: number): void {
    const finalized = Math.max(0, height - 2);
    this.chain = {
      bestHeight: height, bestHash: m.hashHex(this.config.chainSeed, height),
      finalizedHeight: finalized, finalizedHash: m.hashHex(this.config.chainSeed, finalized),
    };
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
    this.setLegacyHeight(this.chain.bestHeight + 1);
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

  // ------------------------------------------------------------------------------------------

  /** docs/wire-protocol.md#systeminterval-and-its-timing: chain part every tick; network part from the 2nd tick; network state every 6th tick (≈30 s). */
  private metricsTick(): void {
    const tick = this.metricsTicks++;
    this.emit('system.interval:chain');
    if (tick > 0) this.emit('system.interval:network');
    if (tick > 0 && tick % 6 === 0) this.emit('system.network_state');
  }

  /** An import span and the block execution inside it. */
  private emitProfilingSpans(): void {
    const parent = this.emit('tracing.profiling');
    this.emit('tracing.profiling', parent);
  }

  /** Builds and submits one message; returns the span id for tracing.profiling. */
  private emit(kind: Kind, parentSpan?: number): number | undefined {
    const msg = msgOf(kind);
    const { v1Templates, networkState, network } = this.config;
    if (v1Templates) {
      // The 2020 interval carried both parts in one message; other kinds only if the fixture has them.
      const template = kind === 'system.interval:network' ? undefined : v1Templates.get(msg);
      if (template) this.socket.submit(this, msg, (ts) => m.v1Frame(template, ts));
      return undefined;
    }
    if (kind === 'afg.finalized') return undefined; // not emitted by tetcore
    if (kind === 'system.network_state') {
      if (network) {
        const peers = this.peerViews(network);
        const index = this.record.node;
        const seed = `${this.config.chainSeed}/network_state/${index}/${this.metricsTicks}`;
        // Even nodes report Tetcore's peerset.sets, odd ones the older single peerset.nodes.
        const shape = index % 2 === 0 ? 'sets' : 'nodes';
        this.socket.submit(this, msg, (ts) => networkStateFrame({
          id: this.envelopeId, ts, node: index, peerId: this.identity.networkId, peers, shape, seed, padding: network.padding,
        }));
      } else {
        this.socket.submit(this, msg, (ts) => m.networkStateFrame(networkState, this.envelopeId, ts, this.identity.networkId));
      }
      return undefined;
    }
    if (kind === 'tracing.profiling') {
      const id = ++this.spanId;
      const height = this.chain.bestHeight;
      const payload = m.tracingProfiling(parentSpan === undefined
        ? { id, name: 'import_block', parentId: null, target: 'sc_service::client::client', timeNs: 2_000_000 + (height * 7919) % 3_000_000, values: { number: String(height) } }
        : { id, name: 'execute_block', parentId: parentSpan, target: 'sp_api', timeNs: 1_000_000 + (height * 104_729) % 1_500_000, values: { wasm: true } });
      this.socket.submit(this, msg, (ts) => m.frame(this.envelopeId, ts, payload));
      return id;
    }
    this.socket.submit(this, msg, (ts) => m.frame(this.envelopeId, ts, this.payload(kind)));
    return undefined;
  }

  private payload(kind: Exclude<Kind, 'system.network_state' | 'afg.finalized' | 'tracing.profiling'>): m.Payload {
    const { config, chain } = this;
    const best = chain.bestHeight;
    const finalized = chain.finalizedHeight;
    const hash = (height: number) => m.hashHex(config.chainSeed, height);
    const nextVoter = () => {
      let voter = this.voterCursor++ % config.validators;
      if (voter === this.voterIndex) voter = this.voterCursor++ % config.validators;
      return config.authorities[voter];
    };
    const blockMs = config.network?.model.blockTimeMs ?? BLOCK_MS;
    const slot = Math.floor(Date.now() / blockMs);
    switch (kind) {
      case 'system.interval:chain':
        return m.intervalChainPart({
          best: chain.bestHash, finalizedHash: chain.finalizedHash, finalizedHeight: finalized, height: best,
          txcount: this.txReady, usedStateCacheSize: 8_376_854 + (best % 64) * 4096,
        });
      case 'system.interval:network':
        return m.intervalNetworkPart({
          bandwidthDownload: 15_000 + Math.floor(Math.random() * 8000),
          bandwidthUpload: 17_000 + Math.floor(Math.random() * 8000),
          peers: config.network
            ? this.peerViews(config.network).filter((peer) => peer.connected).length
            : config.networkState.connectedPeers,
        });
      case 'block.import':
        return m.blockImport(chain.bestHash, best, this.ownBlock ? 'Own' : 'NetworkBroadcast');
      case 'notify.finalized':
        return m.notifyFinalized(chain.finalizedHash, finalized);
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
        return m.afgReceivedVote('prevote', chain.bestHash, best, nextVoter());
      case 'afg.received_precommit':
        return m.afgReceivedVote('precommit', chain.bestHash, best, nextVoter());
      case 'afg.received_propose':
        return m.afgReceivedVote('propose', chain.bestHash, best, nextVoter());
      case 'afg.received_commit':
        return m.afgReceivedCommit(chain.finalizedHash, finalized,
          config.authorities.slice(0, Math.floor((2 * config.validators) / 3) + 1));
      case 'afg.finalized_blocks_up_to':
        return m.afgFinalizedBlocksUpTo(chain.finalizedHash, finalized);
      case 'prepared_block_for_proposing':
        return m.preparedBlockForProposing(chain.bestHash, best);
      case 'slots.pre_sealed_block':
        return m.slotsPreSealedBlock(m.hashHex(config.chainSeed, 'sealed', best), chain.bestHash, best);
      case 'slots.starting_authorship':
        return m.slotsStartingAuthorship(slot, slot * blockMs);
      case 'afg.prevote_issued':
        return m.afgVoteIssued('prevote', this.round, chain.bestHash, best);
      case 'afg.precommit_issued':
        return m.afgVoteIssued('precommit', this.round, chain.bestHash, best);
      case 'afg.announcing_blocks_to_voted_peers':
        return m.afgAnnouncingBlocksToVotedPeers(chain.bestHash, this.round, 0);
      case 'afg.commit_issued':
        return m.afgCommitIssued(chain.finalizedHash, finalized);
      case 'babe.checked_and_importing':
        return m.babeCheckedAndImporting({
          parentHash: hash(best - 1), number: best,
          stateRoot: m.hashHex(config.chainSeed, 'state', best), extrinsicsRoot: m.hashHex(config.chainSeed, 'extrinsics', best),
        });
    }
  }
}
