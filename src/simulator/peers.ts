// Who the simulated nodes are connected to, and the system.network_state bodies naming those peers
// (Tetcore `peerset.sets[]` or older Substrate `peerset.nodes`). Pure: the caller says who is online.

import { envelopeIdText, seededRandom, toSortedJson, DEFAULT_VERSION, type EnvelopeId } from './messages.js';

/** Peers each node keeps (25 in + 25 out slots on a real node; a simulated network is small). */
export const PEER_DEGREE = 25;

/**
 * A symmetric peer graph: the nodes are laid on a ring in a seeded order and each one is connected
 * to its nearest ring neighbours on both sides. Nothing is stored per node beyond the order.
 */
export class PeerGraph {
  private readonly order: number[];
  private readonly position: number[];
  private readonly reach: number;

  constructor(readonly nodes: number, seed: string, degree = PEER_DEGREE) {
    const random = seededRandom(`${seed}/peer-graph`);
    this.order = Array.from({ length: nodes }, (_, i) => i);
    for (let i = nodes - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
    }
    this.position = new Array<number>(nodes);
    this.order.forEach((node, position) => (this.position[node] = position));
    this.reach = Math.ceil(Math.min(degree, nodes - 1) / 2);
  }

  /** The node's peers, ascending. */
  neighbours(node: number): number[] {
    const n = this.nodes;
    if (n - 1 <= 2 * this.reach) return Array.from({ length: n }, (_, i) => i).filter((i) => i !== node);
    const p = this.position[node];
    const found = new Set<number>();
    for (let k = 1; k <= this.reach; k++) {
      found.add(this.order[(p + k) % n]);
      found.add(this.order[(p - k + n) % n]);
    }
    return [...found].sort((a, b) => a - b);
  }
}

/** The simulated node's listening address (10.0.0.0/8, one per node). */
export function nodeAddress(node: number): string {
  const n = node + 1;
  return `/ip4/10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}/tcp/30333`;
}

export interface PeerView {
  index: number;
  peerId: string;
  name: string;
  connected: boolean;
}

export type PeersetShape = 'sets' | 'nodes';

/**
 * Discovered-only peers (old-style `Qm…` ids, which sort after every `12D3KooW…` id) pre-serialized
 * once per size, used to bring a network state up to the requested size without breaking the
 * alphabetical key order serde gives the peerset map.
 */
export interface NetworkStatePadding {
  targetBytes: number;
  /** `"Qm…":{"connected":false,"reputation":-N}` entries joined by commas. */
  text: string;
  /** offsets[k]: length of the first k entries with their separating commas. */
  offsets: number[];
}

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const PADDING_MARKER = '~padding'; // sorts after every base58 id

function legacyPeerId(random: () => number): string {
  let id = 'Qm';
  for (let i = 0; i < 44; i++) id += BASE58[Math.floor(random() * BASE58.length)];
  return id;
}

export function buildPadding(targetBytes: number, seed = 'tetcore'): NetworkStatePadding {
  const random = seededRandom(`${seed}/padding`);
  const ids = Array.from({ length: Math.ceil(targetBytes / 70) }, () => legacyPeerId(random)).sort();
  const entries = ids.map((id) => `${JSON.stringify(id)}:${toSortedJson({ connected: false, reputation: -(2500 + Math.floor(random() * 200)) })}`);
  const offsets = [0];
  let length = 0;
  for (let i = 0; i < entries.length; i++) {
    length += entries[i].length + (i > 0 ? 1 : 0);
    offsets.push(length);
  }
  return { targetBytes, text: entries.join(','), offsets };
}

/**
 * One system.network_state frame of a simulated node: its peers in connectedPeers or
 * notConnectedPeers, all of them in the peerset (Tetcore: set 0 all, sets 1 and 2 the connected
 * ones; older shape: one `nodes` map), padded with discovered-only peers up to the target size.
 */
export function networkStateFrame(fields: {
  id: EnvelopeId;
  ts: string;
  node: number;
  peerId: string;
  peers: PeerView[];
  shape: PeersetShape;
  /** Seed of the reputations and ping times, varied per report. */
  seed: string;
  padding: NetworkStatePadding;
}): string {
  const random = seededRandom(fields.seed);
  const connectedPeers: Record<string, unknown> = {};
  const notConnectedPeers: Record<string, unknown> = {};
  const all: Record<string, unknown> = {};
  const connectedEntries: Record<string, unknown> = {};
  for (const peer of fields.peers) {
    const known = [nodeAddress(peer.index)];
    const agent = `Tetcore Node/v${DEFAULT_VERSION} (${peer.name})`;
    if (peer.connected) {
      connectedPeers[peer.peerId] = {
        // The lower index dialed the higher one.
        endpoint: fields.node < peer.index
          ? { dialing: known[0] }
          : { listening: { local_addr: '/ip4/0.0.0.0/tcp/30333', send_back_addr: `/ip4/10.0.0.1/tcp/${40_000 + peer.index}` } },
        knownAddresses: known,
        latestPingTime: { nanos: 10_000_000 + Math.floor(random() * 90_000_000), secs: 0 },
        versionString: agent,
      };
      const entry = { connected: true, reputation: Math.floor(random() * 7394) };
      all[peer.peerId] = entry;
      connectedEntries[peer.peerId] = entry;
    } else {
      notConnectedPeers[peer.peerId] = { knownAddresses: known, latestPingTime: null, versionString: agent };
      all[peer.peerId] = { connected: false, reputation: -(256 + Math.floor(random() * 2400)) };
    }
  }
  all[PADDING_MARKER] = null;
  const peerSet = (nodes: Record<string, unknown>) => ({ nodes, reserved_nodes: [], reserved_only: false });
  const state = {
    connectedPeers,
    externalAddresses: [nodeAddress(fields.node)],
    listenedAddresses: ['/ip4/0.0.0.0/tcp/30333', '/ip6/::/tcp/30333'],
    notConnectedPeers,
    peerId: fields.peerId,
    peerset: fields.shape === 'sets'
      ? { message_queue: 0, sets: [peerSet(all), peerSet(connectedEntries), peerSet(connectedEntries)] }
      : { message_queue: 0, nodes: all },
  };
  const frame = `{"id":${envelopeIdText(fields.id)},"ts":${JSON.stringify(fields.ts)},"payload":{"msg":"system.network_state","state":${toSortedJson(state)}}}`;
  const marker = `${JSON.stringify(PADDING_MARKER)}:null`;
  const alone = frame.includes(`{${marker}}`);
  const room = fields.padding.targetBytes - (frame.length - marker.length - (alone ? 0 : 1));
  const { offsets, text } = fields.padding;
  let count = 0;
  // Entries that fit in the room left (a comma before them unless the map was empty).
  while (count + 1 < offsets.length && offsets[count + 1] + (alone ? 0 : 1) <= room) count++;
  const padding = text.slice(0, offsets[count]);
  if (alone) return frame.replace(marker, padding);
  return frame.replace(`,${marker}`, padding.length > 0 ? `,${padding}` : '');
}
