// Programmatic API of the load generator: starts N simulated tetcore nodes against a telemetry
// server, opening connections gradually, and keeps a per-node record of what each one sent (and,
// in network mode, a ground truth of the chain and of every block import and finality report).

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as m from './messages.js';
import { loadV1Fixture } from './fixtures.js';
import { NetworkModel, DEFAULT_SYNC_BLOCKS_PER_SECOND as SYNC_BLOCKS_PER_SECOND } from './network.js';
import { PeerGraph, buildPadding } from './peers.js';
import { NodeTruthRecorder, renderTruth, type GroundTruth } from './truth.js';
import { SimulatedNode, TelemetrySocket, cumulativeRateMix, type DialOutcome, type NodeSentRecord, type Role, type SharedConfig } from './node.js';
import { checkTelemetryUrl } from './dial-errors.js';

export type { DialOutcome, NodeSentRecord, Role } from './node.js';
export { checkTelemetryUrl, describeDialError } from './dial-errors.js';
export type { EnvelopeId } from './messages.js';
export type { GroundTruth, TruthNode, TruthBlock, TruthImport, TruthFinalized, TruthSession } from './truth.js';
export { fixtureToV2, frame, formatTs, buildNetworkStateTemplate } from './messages.js';
export { loadV1Fixture, V1_CAPTURE_PATH } from './fixtures.js';
export { NetworkModel, type NetworkOptions, type NodeEvent, type ChainBlock } from './network.js';

export interface SimulationOptions {
  /** e.g. `ws://127.0.0.1:8080/` or `ws://host:8080/audit`; no query, fragment or credentials (docs/wire-protocol.md#node-configuration-and-urls). */
  url: string;
  /** Simulated nodes (envelope ids), default 1. */
  nodes?: number;
  /** Nodes sharing one websocket, distinguished by envelope id (docs/wire-protocol.md#envelope-ids); default 1. */
  idsPerSocket?: number;
  /** Envelope id of the first node on each socket, the next ones count up; default 1. Any u64. */
  firstEnvelopeId?: m.EnvelopeId;
  /** Endpoint verbosity; 0, 1, 5 and 9 change what is sent (docs/wire-protocol.md#message-types); default 0. */
  verbosity?: number;
  /** Default 'full'. */
  role?: Role;
  /** GRANDPA voter count V (docs/wire-protocol.md#rates-and-sizes); default 4. Validator nodes take the voter slots round-robin. */
  validators?: number;
  /** Messages/s per node with the natural mix of the verbosity/role, instead of the natural schedule. */
  rate?: number;
  /** txpool.import per second per node; default 0 (idle chain). */
  txRate?: number;
  /** Size of system.network_state frames, 2–350 (KB = 1000 bytes); default 22. */
  networkStateKb?: number;
  /** Replay the flat 2020 fixture messages verbatim (fresh ts) instead of tetcore V2 frames. */
  v1?: boolean;
  /** Answer pings and close frames (a real node does not). */
  polite?: boolean;
  /** Simulated time runs this many times faster (schedules and reconnect delays); default 1. */
  timeScale?: number;
  /** Reconnect delay range in whole seconds of simulated time; default [5, 9]. */
  reconnectDelaySec?: [number, number];
  /** Sockets started per second of wall time; default 500. */
  rampPerSecond?: number;
  /** In-flight messages before dropping; default 16. */
  maxPending?: number;
  /** Chain name in system.connected; default 'Local Testnet'. */
  chain?: string;
  /** Seed of node identities and hashes; default random, so each run has fresh network ids. */
  seed?: string;
  /** The V1 capture to replay (V1 mode); default src/simulator/data/v1-capture.json. */
  v1CapturePath?: string;
  /** Told the outcome of every dial of every socket (the CLI stops when the very first one fails). */
  onDial?: (outcome: DialOutcome) => void;

  // Network mode (the natural schedule of V2 frames; not with `rate` or `v1`). Times are simulated.
  /** Seconds between blocks; default 3. */
  blockTimeS?: number;
  /** Range of each node's base block propagation delay, ms; each block adds ±10 % of the range; default [100, 600]. */
  propagationMs?: [number, number];
  /** Nodes finalize this many blocks below their best; default 2 (at least 1). */
  finalityLag?: number;
  /** Delay between an import and the finality report it leads to, ms; default [100, 600]. */
  finalityDelayMs?: [number, number];
  /** Probability that a height gets a competing fork block, seen first by ~30 % of the nodes; default 0.02. */
  forkRate?: number;
  /** Probability that a socket's nodes go offline once per churn period; default 0. */
  churn?: number;
  /** Default 60. */
  churnPeriodS?: number;
  /** Length of an outage, seconds, at most 80 % of the churn period; default [10, 30]. */
  downtimeS?: [number, number];
  /** Fraction of the nodes that start 100–300 blocks behind and sync; default 0. */
  syncing?: number;
  /** Keep the ground truth (returned by `truth()`); implied by `truthFile`. Memory grows with the run (≈150 B per report). */
  truth?: boolean;
  /** Write the ground truth as JSON to this file when the simulation stops. */
  truthFile?: string;
}

export interface SimulationStats {
  nodes: number;
  sockets: number;
  startedSockets: number;
  connectedSockets: number;
  connectedNodes: number;
  sent: number;
  bytes: number;
  sentByType: Record<string, number>;
  dropped: number;
  discarded: number;
  /** Connection losses and failed dials, counted per socket. */
  reconnects: number;
}

export interface Simulation {
  /** Aggregated live counters. */
  stats(): SimulationStats;
  /** Live per-node records (the objects are updated in place). */
  records(): NodeSentRecord[];
  /** Stops all timers, lets in-flight frames reach the kernel, drops the connections (no close frame); writes `truthFile`. */
  stop(): Promise<SimulationStats>;
  /** The ground truth so far (network mode with `truth` or `truthFile`), else undefined. */
  truth(): GroundTruth | undefined;
}

/** Height of the best block when a run begins. */
const BASE_HEIGHT = 1000;

/** One pre-built body per size, shared by every node and every run in this process. */
const networkStateTemplates = new Map<number, m.NetworkStateTemplate>();
function networkStateTemplate(targetBytes: number): m.NetworkStateTemplate {
  let template = networkStateTemplates.get(targetBytes);
  if (!template) {
    template = m.buildNetworkStateTemplate(targetBytes);
    networkStateTemplates.set(targetBytes, template);
  }
  return template;
}

/** Discovered-only peers filling network-mode states up to their size, one list per size. */
const paddings = new Map<number, ReturnType<typeof buildPadding>>();
function networkStatePadding(targetBytes: number) {
  let padding = paddings.get(targetBytes);
  if (!padding) {
    padding = buildPadding(targetBytes);
    paddings.set(targetBytes, padding);
  }
  return padding;
}

function networkModel(options: Omit<SimulationOptions, 'url'>, chainSeed: string): NetworkModel {
  const seconds = (range: [number, number] | undefined, fallback: [number, number]): [number, number] =>
    [(range ?? fallback)[0] * 1000, (range ?? fallback)[1] * 1000];
  return new NetworkModel({
    seed: chainSeed,
    nodes: options.nodes ?? 1,
    idsPerSocket: options.idsPerSocket ?? 1,
    baseHeight: BASE_HEIGHT,
    blockTimeMs: (options.blockTimeS ?? 3) * 1000,
    propagationMs: options.propagationMs,
    finalityLag: options.finalityLag,
    finalityDelayMs: options.finalityDelayMs,
    forkRate: options.forkRate ?? 0.02,
    churn: options.churn,
    churnPeriodMs: (options.churnPeriodS ?? 60) * 1000,
    downtimeMs: seconds(options.downtimeS, [10, 30]),
    syncing: options.syncing,
    authorities: options.validators ?? 4,
    nodesAuthor: (options.role ?? 'full') === 'validator',
  });
}

/** Why these network-mode settings cannot run together, or null (they can, or it is not network mode). */
export function networkOptionsProblem(options: Omit<SimulationOptions, 'url'>): string | null {
  if (options.v1 || options.rate !== undefined) return null;
  // The two settings that are only wrong in combination, said in the caller's terms.
  const churnPeriodS = options.churnPeriodS ?? 60;
  const downtimeS = options.downtimeS ?? [10, 30];
  if ((options.churn ?? 0) > 0 && downtimeS[1] > 0.8 * churnPeriodS) {
    return `an outage (--downtime / downtimeS, up to ${downtimeS[1]} s) must fit in 80 % of the churn period (--churn-period / churnPeriodS, ${churnPeriodS} s)`;
  }
  const blockTimeS = options.blockTimeS ?? 3;
  if (blockTimeS < 1.5 / SYNC_BLOCKS_PER_SECOND) {
    return `--block-time / blockTimeS must be at least ${1.5 / SYNC_BLOCKS_PER_SECOND} s: syncing nodes catch up at ${SYNC_BLOCKS_PER_SECOND} blocks/s and must outpace the chain`;
  }
  try {
    networkModel(options, 'check');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}


export async function runSimulation(options: SimulationOptions): Promise<Simulation> {
  const urlProblem = checkTelemetryUrl(options.url);
  if (urlProblem !== null) throw new Error(urlProblem);
  const nodeCount = options.nodes ?? 1;
  const idsPerSocket = options.idsPerSocket ?? 1;
  const role = options.role ?? 'full';
  const validators = options.validators ?? 4;
  const seed = options.seed ?? randomBytes(6).toString('hex');
  const chain = options.chain ?? 'Local Testnet';
  const chainSeed = `${seed}/${chain}`;
  const v1Messages = options.v1 ? loadV1Fixture(options.v1CapturePath) : undefined;
  if (v1Messages && idsPerSocket !== 1) throw new Error('V1 frames carry no id, so only one node per socket is possible');
  const networkMode = !v1Messages && options.rate === undefined;
  const keepTruth = options.truth === true || options.truthFile !== undefined;
  if (keepTruth && !networkMode) throw new Error('a ground truth is only kept in network mode (not with rate or v1)');
  const timeScale = options.timeScale ?? 1;
  const networkProblem = networkOptionsProblem(options);
  if (networkProblem) throw new RangeError(networkProblem);
  const model = networkMode ? networkModel(options, chainSeed) : undefined;

  const config: SharedConfig = {
    url: options.url,
    verbosity: options.verbosity ?? 0,
    role,
    validators,
    authorities: Array.from({ length: validators }, (_, i) => m.ss58For(`${chainSeed}/authority/${i}`)),
    rate: options.rate,
    txRate: options.txRate ?? 0,
    timeScale,
    reconnectDelaySec: options.reconnectDelaySec ?? [5, 9],
    polite: options.polite ?? false,
    maxPending: options.maxPending ?? 16,
    networkState: networkStateTemplate(Math.round((options.networkStateKb ?? 22) * 1000)),
    v1Templates: v1Messages && m.v1Templates(v1Messages),
    chainSeed,
    chainStartMs: Date.now(),
    baseHeight: BASE_HEIGHT,
    onDial: options.onDial,
  };
  const startedMs = config.chainStartMs;
  const rateMix = cumulativeRateMix(config);
  const fixturePeerId = (v1Messages?.find((msg) => msg.msg === 'system.network_state')?.state as { peerId?: string } | undefined)?.peerId;
  const firstId = BigInt(m.envelopeIdText(options.firstEnvelopeId ?? 1));
  const genesisHash = m.hashHex('genesis', chainSeed);

  const sockets: TelemetrySocket[] = [];
  const records: NodeSentRecord[] = [];
  const recorders: NodeTruthRecorder[] = [];
  const peerIds: string[] = [];
  const names: string[] = [];
  for (let index = 0; index < nodeCount; index++) {
    const socketIndex = Math.floor(index / idsPerSocket);
    const socket = sockets[socketIndex] ?? (sockets[socketIndex] = new TelemetrySocket(config));
    const envelopeId = m.envelopeIdText(firstId + BigInt(index % idsPerSocket));
    const name = `sim-${role}-${index + 1}`;
    const networkId = fixturePeerId ?? m.peerIdFor(`${seed}/node/${index}`);
    const identity: m.NodeIdentity = {
      name, networkId, authority: role === 'validator', chain, genesisHash,
      startupTime: '0', // set when the node starts
      implementation: m.DEFAULT_IMPLEMENTATION, version: m.DEFAULT_VERSION,
    };
    const record: NodeSentRecord = {
      node: index, socket: socketIndex, envelopeId: v1Messages ? null : envelopeId, networkId, name,
      sent: {}, total: 0, bytes: 0, lastTs: null, reconnects: 0, dropped: 0, discarded: 0,
    };
    const voterIndex = role === 'validator' ? index % validators : -1;
    const node = new SimulatedNode(envelopeId, identity, voterIndex, record, socket, config, rateMix);
    if (keepTruth) {
      node.truth = new NodeTruthRecorder({ peerId: networkId, name, chain, genesisHash, envelopeId, authority: identity.authority });
      recorders.push(node.truth);
    }
    socket.nodes.push(node);
    records.push(record);
    peerIds.push(networkId);
    names.push(name);
  }
  if (model) {
    config.network = {
      model,
      graph: new PeerGraph(nodeCount, chainSeed),
      padding: networkStatePadding(config.networkState.targetBytes),
      peerIds,
      names,
    };
  }

  // Open connections gradually: a node dials on its first message, i.e. right after it starts.
  let started = 0;
  let rampCredit = 1; // the first socket starts right away
  const rampPerTick = (options.rampPerSecond ?? 500) / 100;
  const startBatch = () => {
    for (; rampCredit >= 1 && started < sockets.length; rampCredit--) {
      for (const node of sockets[started++].nodes) {
        node.identity.startupTime = String(Date.now());
        node.start();
      }
    }
    rampCredit += rampPerTick;
    if (started === sockets.length) clearInterval(rampTimer);
  };
  const rampTimer = setInterval(startBatch, 10);
  startBatch();

  const stats = (): SimulationStats => {
    const total: SimulationStats = {
      nodes: nodeCount, sockets: sockets.length, startedSockets: started, connectedSockets: 0, connectedNodes: 0,
      sent: 0, bytes: 0, sentByType: {}, dropped: 0, discarded: 0, reconnects: 0,
    };
    for (const socket of sockets) {
      if (socket.isConnected) {
        total.connectedSockets++;
        total.connectedNodes += socket.nodes.length;
      }
      total.reconnects += socket.nodes[0]?.record.reconnects ?? 0;
    }
    for (const record of records) {
      total.sent += record.total;
      total.bytes += record.bytes;
      total.dropped += record.dropped;
      total.discarded += record.discarded;
      for (const [msg, count] of Object.entries(record.sent)) total.sentByType[msg] = (total.sentByType[msg] ?? 0) + count;
    }
    return total;
  };

  let stoppedMs: number | null = null;
  const truth = () => model && keepTruth
    ? renderTruth({
      model, recorders, chain, genesisHash, timeScale, verbosity: config.verbosity,
      chainStartMs: config.chainStartMs, startedMs, stoppedMs,
    })
    : undefined;

  return {
    stats,
    records: () => records,
    truth,
    async stop() {
      clearInterval(rampTimer);
      for (const socket of sockets) for (const node of socket.nodes) node.stop();
      await Promise.all(sockets.map((socket) => socket.stop()));
      stoppedMs ??= Date.now();
      if (options.truthFile) writeFileSync(options.truthFile, JSON.stringify(truth()) + '\n');
      return stats();
    },
  };
}
