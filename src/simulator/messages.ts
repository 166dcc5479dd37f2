// Builds the exact bytes a tetcore node puts on its telemetry socket (docs/wire-protocol.md: V2 envelope, Timestamps,
// Message types, system.network_state, The 2020 capture).
// Pure functions only: no clock, no I/O, deterministic pseudo-randomness from explicit seeds.

export type EnvelopeId = bigint | string | number;
export type Payload = { msg: string } & Record<string, unknown>;
/** A flat 2020 ("V1") message as found in telemetry_messages.json. */
export type V1Message = { msg: string; ts: string } & Record<string, unknown>;

const U64_MAX = (1n << 64n) - 1n;

/** The envelope id as decimal text, written verbatim so ids above 2^53 survive (docs/wire-protocol.md#envelope-ids). */
export function envelopeIdText(id: EnvelopeId): string {
  if (typeof id === 'number' && !Number.isSafeInteger(id)) {
    throw new RangeError(`envelope id ${id} is not a safe integer; pass a bigint or a decimal string`);
  }
  const text = typeof id === 'string' ? id : id.toString();
  if (!/^(0|[1-9][0-9]*)$/.test(text) || BigInt(text) > U64_MAX) {
    throw new RangeError(`envelope id ${JSON.stringify(text)} is not a u64`);
  }
  return text;
}

/** chrono `to_rfc3339()` (docs/wire-protocol.md#timestamps): 9/6/3/0 fraction digits depending on trailing zeros, numeric offset, never `Z`. */
export function formatTs(epochNanos: bigint, offsetMinutes = 0): string {
  const local = epochNanos + BigInt(offsetMinutes) * 60_000_000_000n;
  const nanos = Number(local % 1_000_000_000n);
  const date = new Date(Number(local / 1_000_000n));
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const fraction =
    nanos === 0 ? ''
    : nanos % 1_000_000 === 0 ? '.' + pad(nanos / 1_000_000, 3)
    : nanos % 1000 === 0 ? '.' + pad(nanos / 1000, 6)
    : '.' + pad(nanos, 9);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const offset = `${sign}${pad(Math.floor(Math.abs(offsetMinutes) / 60))}:${pad(Math.abs(offsetMinutes) % 60)}`;
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}${fraction}${offset}`
  );
}

/** Compact JSON with every object's keys sorted, as serde_json's BTreeMap writes it (docs/wire-protocol.md#v2-envelope). bigint → JSON number. */
export function toSortedJson(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return '[' + value.map(toSortedJson).join(',') + ']';
  const object = value as Record<string, unknown>;
  const fields = Object.keys(object)
    .filter((key) => object[key] !== undefined)
    .sort()
    .map((key) => JSON.stringify(key) + ':' + toSortedJson(object[key]));
  return '{' + fields.join(',') + '}';
}

/** One V2 frame. `system.connected` is serialized whole (id, payload, ts); everything else is string-formatted (id, ts, payload). */
export function frame(id: EnvelopeId, ts: string, payload: Payload): string {
  const idText = envelopeIdText(id);
  const body = toSortedJson(payload);
  return payload.msg === 'system.connected'
    ? `{"id":${idText},"payload":${body},"ts":${JSON.stringify(ts)}}`
    : `{"id":${idText},"ts":${JSON.stringify(ts)},"payload":${body}}`;
}

// ---------------------------------------------------------------------------------------------
// Deterministic pseudo-random identifiers (so every simulated node on a chain agrees on block
// hashes without sharing state, and runs are reproducible from a seed).

/** 128-bit string hash (cyrb128) feeding a small-state PRNG (sfc32): collisions are negligible for 10^4–10^6 seeds. */
export function seededRandom(seed: string): () => number {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < seed.length; i++) {
    const k = seed.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  let a = h1 >>> 0, b = h2 >>> 0, c = h3 >>> 0, d = h4 >>> 0;
  return () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const result = (t + d) | 0;
    c = (c + result) | 0;
    return (result >>> 0) / 4294967296;
  };
}

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

function randomChars(random: () => number, alphabet: string, count: number): string {
  let text = '';
  for (let i = 0; i < count; i++) text += alphabet[Math.floor(random() * alphabet.length)];
  return text;
}

/** `"0x"` + 64 lowercase hex digits derived from the parts. */
export function hashHex(...parts: Array<string | number>): string {
  return '0x' + randomChars(seededRandom(parts.join('/')), '0123456789abcdef', 64);
}

/** An ed25519 libp2p PeerId in base58 (`12D3KooW` + 44 chars = 52 chars). */
export function peerIdFor(seed: string): string {
  return '12D3KooW' + randomChars(seededRandom('peer/' + seed), BASE58, 44);
}

/** An SS58 account address on a generic substrate network (`5` + 47 chars). */
export function ss58For(seed: string): string {
  return '5' + randomChars(seededRandom('ss58/' + seed), BASE58, 47);
}

// ---------------------------------------------------------------------------------------------
// Payload builders. Field types follow docs/wire-protocol.md#message-types and
// docs/wire-protocol.md#numbers-as-strings: "str#" fields are decimal strings, "dbg" fields are
// Rust Debug text, everything else plain JSON.

export interface NodeIdentity {
  name: string;
  networkId: string;
  authority: boolean;
  chain: string;
  genesisHash: string;
  /** Unix ms as decimal text; fixed for the process lifetime (docs/wire-protocol.md#systemconnected). */
  startupTime: string;
  implementation: string;
  version: string;
}

export const DEFAULT_IMPLEMENTATION = 'Tetcore Node';
export const DEFAULT_VERSION = '2.1.2-dcda600-x86_64-linux-gnu';
/** The key non-validators report as their GRANDPA authority id (docs/wire-protocol.md#message-types). */
export const NON_VALIDATOR_AUTHORITY_ID = '5C4hrfjw9DjXZTzV3MwzrrAr9P1MJhSrvWGWqi1eSuyUpnhM';

export function systemConnected(node: NodeIdentity): Payload {
  return {
    authority: node.authority,
    chain: node.chain,
    config: '',
    genesis_hash: node.genesisHash,
    implementation: node.implementation,
    msg: 'system.connected',
    name: node.name,
    network_id: node.networkId,
    startup_time: node.startupTime,
    version: node.version,
  };
}

export function intervalChainPart(fields: {
  best: string; finalizedHash: string; finalizedHeight: number; height: number; txcount: number; usedStateCacheSize: number;
}): Payload {
  return {
    best: fields.best,
    finalized_hash: fields.finalizedHash,
    finalized_height: fields.finalizedHeight,
    height: fields.height,
    msg: 'system.interval',
    txcount: fields.txcount,
    used_state_cache_size: fields.usedStateCacheSize,
  };
}

export function intervalNetworkPart(fields: { bandwidthDownload: number; bandwidthUpload: number; peers: number }): Payload {
  return {
    bandwidth_download: fields.bandwidthDownload,
    bandwidth_upload: fields.bandwidthUpload,
    msg: 'system.interval',
    peers: fields.peers,
  };
}

export type BlockOrigin = 'Own' | 'NetworkBroadcast' | 'NetworkInitialSync' | 'ConsensusBroadcast' | 'File' | 'Genesis';

export function blockImport(best: string, height: number, origin: BlockOrigin): Payload {
  return { best, height, msg: 'block.import', origin };
}

/** `height` is a string here even in tetcore (docs/wire-protocol.md#numbers-as-strings). */
export function notifyFinalized(best: string, height: number): Payload {
  return { best, height: String(height), msg: 'notify.finalized' };
}

export function txpoolImport(ready: number, future: number): Payload {
  return { future, msg: 'txpool.import', ready };
}

// Verbosity 1 (CONSENSUS_INFO)

export function afgAuthoritySet(fields: {
  authorities: string[]; authorityId: string; setId: number; finalized?: { hash: string; number: number };
}): Payload {
  return {
    authorities: JSON.stringify(fields.authorities),
    authority_id: fields.authorityId,
    authority_set_id: String(fields.setId),
    hash: fields.finalized?.hash,
    msg: 'afg.authority_set',
    number: fields.finalized === undefined ? undefined : String(fields.finalized.number),
  };
}

export function afgReceivedVote(
  kind: 'prevote' | 'precommit' | 'propose', targetHash: string, targetNumber: number, voter: string,
): Payload {
  return {
    msg: `afg.received_${kind}`,
    target_hash: targetHash,
    target_number: String(targetNumber),
    voter: `"${voter}"`,
  };
}

/** Rust Debug of a `Vec<String>`: quoted items separated by comma+space. */
export function debugStringList(items: string[]): string {
  return '[' + items.map((item) => `"${item}"`).join(', ') + ']';
}

export function afgReceivedCommit(targetHash: string, targetNumber: number, signers: string[]): Payload {
  return {
    contains_precommits_signed_by: debugStringList(signers),
    msg: 'afg.received_commit',
    target_hash: targetHash,
    target_number: String(targetNumber),
  };
}

export function afgFinalizedBlocksUpTo(hash: string, number: number): Payload {
  return { hash, msg: 'afg.finalized_blocks_up_to', number: String(number) };
}

export function preparedBlockForProposing(hash: string, number: number): Payload {
  return { hash, msg: 'prepared_block_for_proposing', number: String(number) };
}

export function slotsPreSealedBlock(hashNow: string, hashPreviously: string, headerNumber: number): Payload {
  return { hash_now: hashNow, hash_previously: hashPreviously, header_num: String(headerNumber), msg: 'slots.pre_sealed_block' };
}

// Verbosity 5 (CONSENSUS_DEBUG)

export function slotsStartingAuthorship(slotNumber: number, timestampMs: number): Payload {
  return { msg: 'slots.starting_authorship', slot_num: slotNumber, timestamp: timestampMs };
}

export function afgVoteIssued(kind: 'prevote' | 'precommit', round: number, targetHash: string, targetNumber: number): Payload {
  return { msg: `afg.${kind}_issued`, round, target_hash: targetHash, target_number: String(targetNumber) };
}

export function afgAnnouncingBlocksToVotedPeers(block: string, round: number, setId: number): Payload {
  return { block, msg: 'afg.announcing_blocks_to_voted_peers', round: String(round), set_id: String(setId) };
}

export function afgCommitIssued(targetHash: string, targetNumber: number): Payload {
  return { msg: 'afg.commit_issued', target_hash: targetHash, target_number: String(targetNumber) };
}

// Verbosity 9 (CONSENSUS_TRACE)

/** `pre_header` is the whole header in Rust Debug form (~0.9 KB), seal already removed. */
export function babeCheckedAndImporting(fields: {
  parentHash: string; number: number; stateRoot: string; extrinsicsRoot: string;
}): Payload {
  const digestBytes = Array.from({ length: 98 }, (_, i) => (fields.number * 31 + i * 17) % 256);
  const preHeader =
    `Header { parent_hash: ${fields.parentHash}, number: ${fields.number}, state_root: ${fields.stateRoot}, ` +
    `extrinsics_root: ${fields.extrinsicsRoot}, digest: Digest { logs: [DigestItem::PreRuntime([66, 65, 66, 69], ` +
    `[${digestBytes.join(', ')}])] } }`;
  return { msg: 'babe.checked_and_importing', pre_header: preHeader };
}

/**
 * One tracing span (docs/wire-protocol.md, Message types: tracing.profiling), in the shape of a node rebuilt with a serde_json that can write `time`
 * (u128 ns) as a JSON number.
 */
export function tracingProfiling(fields: {
  id: number; name: string; parentId: number | null; target: string; timeNs: number; values: Record<string, unknown>;
}): Payload {
  return {
    id: fields.id,
    msg: 'tracing.profiling',
    name: fields.name,
    parent_id: fields.parentId,
    target: fields.target,
    time: fields.timeNs,
    values: fields.values,
  };
}

// ---------------------------------------------------------------------------------------------
// system.network_state (docs/wire-protocol.md#systemnetwork_state). Built once per target size and
// shared by every node; only the node's own peerId (and the envelope) differ per frame, so the body is
// kept as two pre-serialized halves around the peerId value.

export interface NetworkStateTemplate {
  targetBytes: number;
  connectedPeers: number;
  notConnectedPeers: number;
  discoveredPeers: number;
  /** Serialized state up to the opening quote of the peerId value. */
  beforePeerId: string;
  /** Serialized state from the closing quote of the peerId value to the end of `state`. */
  afterPeerId: string;
}

const PEER_ID_MARKER = '@@PEER_ID@@';

/** Envelope around `state`: the only variable-length parts are id and ts, ~100 bytes. */
export function networkStateFrame(template: NetworkStateTemplate, id: EnvelopeId, ts: string, peerId: string): string {
  return `{"id":${envelopeIdText(id)},"ts":${JSON.stringify(ts)},"payload":{"msg":"system.network_state","state":` +
    `${template.beforePeerId}${peerId}${template.afterPeerId}}}`;
}

function ipv4(random: () => number): string {
  return `${Math.floor(random() * 223) + 1}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 254) + 1}`;
}

function buildNetworkState(connected: number, notConnected: number, extraDiscovered: number, seed: string): string {
  const random = seededRandom('network_state/' + seed);
  const integer = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const addr = () => `/ip4/${ipv4(random)}/tcp/${random() < 0.8 ? 30333 : integer(1024, 65535)}`;
  const pingTime = () => ({ nanos: integer(10_000_000, 999_999_999), secs: random() < 0.9 ? 0 : integer(1, 3) });
  const agent = (i: number) => `Tetcore Node/v2.1.2-dcda600-x86_64-linux-gnu (peer-${i})`;

  const connectedPeers: Record<string, unknown> = {};
  const notConnectedPeers: Record<string, unknown> = {};
  const discovered: Record<string, { connected: boolean; reputation: number }> = {};
  const connectedInSets: Record<string, { connected: boolean; reputation: number }> = {};
  // Reputations shaped like the 2020 capture (docs/wire-protocol.md#systemnetwork_state): connected
  // peers mostly positive, the rest slightly negative, an occasional banned one.
  const notConnectedReputation = () =>
    random() < 0.003 ? -2_104_533_976 : random() < 0.1 ? 0 : -integer(2500, 2700);

  for (let i = 0; i < connected; i++) {
    const id = peerIdFor(`${seed}/c${i}`);
    const known = [addr()];
    if (random() < 0.5) known.push(addr());
    connectedPeers[id] = {
      endpoint: i % 2 === 0
        ? { dialing: known[0] }
        : { listening: { local_addr: '/ip4/0.0.0.0/tcp/30333', send_back_addr: addr() } },
      knownAddresses: known,
      latestPingTime: pingTime(),
      versionString: agent(i),
    };
    const entry = { connected: true, reputation: integer(-100, 7394) };
    discovered[id] = entry;
    connectedInSets[id] = entry;
  }
  for (let i = 0; i < notConnected; i++) {
    const id = peerIdFor(`${seed}/n${i}`);
    const seen = random() < 0.7;
    notConnectedPeers[id] = {
      knownAddresses: [addr()],
      latestPingTime: seen ? pingTime() : null,
      versionString: seen ? agent(connected + i) : null,
    };
    discovered[id] = { connected: false, reputation: notConnectedReputation() };
  }
  for (let i = 0; i < extraDiscovered; i++) {
    discovered[peerIdFor(`${seed}/d${i}`)] = { connected: false, reputation: notConnectedReputation() };
  }
  const peerSet = (nodes: Record<string, unknown>) => ({ nodes, reserved_nodes: [], reserved_only: false });
  const state = {
    connectedPeers,
    externalAddresses: ['/ip4/203.0.113.7/tcp/30333', '/dns/node.example.org/tcp/30333'],
    listenedAddresses: ['/ip4/127.0.0.1/tcp/30333', '/ip4/10.0.0.5/tcp/30333', '/ip6/::1/tcp/30333'],
    notConnectedPeers,
    peerId: PEER_ID_MARKER,
    // Set 0 (sync) holds every discovered peer, 1 (transactions) and 2 (GRANDPA) the connected ones.
    peerset: { message_queue: 0, sets: [peerSet(discovered), peerSet(connectedInSets), peerSet(connectedInSets)] },
  };
  return toSortedJson(state);
}

/**
 * A network state whose whole frame is ≈ targetBytes (1 KB = 1000 bytes, as in docs/wire-protocol.md#rates-and-sizes).
 * Peer counts follow the table (≈1 connected peer per 900 B up to 50, then not-connected peers up
 * to 300); the remainder is filled with discovered-only peerset entries (~95 B each).
 */
export function buildNetworkStateTemplate(targetBytes: number, seed = 'tetcore'): NetworkStateTemplate {
  const envelopeBytes = networkStateFrame(
    { targetBytes, connectedPeers: 0, notConnectedPeers: 0, discoveredPeers: 0, beforePeerId: '', afterPeerId: '' },
    1, formatTs(1_624_410_117_123_456_789n), peerIdFor('x'),
  ).length;
  const stateTarget = targetBytes - envelopeBytes;
  let connected = Math.min(50, Math.max(1, Math.round(targetBytes / 900)));
  let notConnected = Math.min(300, Math.max(0, Math.round((targetBytes - 2500) / 1100)));
  let state = buildNetworkState(connected, notConnected, 0, seed);
  while (state.length > stateTarget && (notConnected > 0 || connected > 1)) {
    if (notConnected > 0) notConnected--; else connected--;
    state = buildNetworkState(connected, notConnected, 0, seed);
  }
  let extra = 0;
  if (state.length < stateTarget) {
    const probe = 100;
    const perEntry = (buildNetworkState(connected, notConnected, probe, seed).length - state.length) / probe;
    extra = Math.round((stateTarget - state.length) / perEntry);
    state = buildNetworkState(connected, notConnected, extra, seed);
  }
  const [beforePeerId, afterPeerId] = state.split(PEER_ID_MARKER) as [string, string];
  return {
    targetBytes,
    connectedPeers: connected,
    notConnectedPeers: notConnected,
    discoveredPeers: connected + notConnected + extra,
    beforePeerId,
    afterPeerId,
  };
}

// ---------------------------------------------------------------------------------------------
// The 2020 fixture: verbatim V1 replay and the transform into tetcore V2 frames
// (docs/wire-protocol.md#the-2020-capture).

/** A fixture message pre-serialized around its `ts` value, so replaying it only splices in a fresh ts. */
export interface V1Template {
  msg: string;
  beforeTs: string;
  afterTs: string;
}

const TS_MARKER = '@@TS@@';

/** Compact JSON in the fixture's own key order; only `ts` changes per replay. */
export function v1Templates(messages: V1Message[]): Map<string, V1Template> {
  const templates = new Map<string, V1Template>();
  for (const message of messages) {
    const [beforeTs, afterTs] = JSON.stringify({ ...message, ts: TS_MARKER }).split(TS_MARKER) as [string, string];
    templates.set(message.msg, { msg: message.msg, beforeTs, afterTs });
  }
  return templates;
}

export function v1Frame(template: V1Template, ts: string): string {
  return template.beforeTs + ts + template.afterTs;
}

const V1_ONLY_INTERVAL_FIELDS = ['cpu', 'memory', 'disk_read_per_sec', 'disk_write_per_sec', 'used_db_cache_size'];
const NETWORK_PART_FIELDS = ['bandwidth_download', 'bandwidth_upload', 'peers'];

function without(object: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([key]) => !keys.includes(key)));
}

/** The parts of a 2020 (V1) network state that the conversion reads; the rest is copied as it is. */
interface V1NetworkState {
  peerset: { nodes: Record<string, { connected: boolean; reputation: number }>; message_queue?: unknown };
  connectedPeers: Record<string, Record<string, unknown>>;
  notConnectedPeers: Record<string, Record<string, unknown>>;
  [field: string]: unknown;
}

function tetcoreNetworkState(v1State: V1NetworkState, peerId: string): Record<string, unknown> {
  const stripPeer = (peer: Record<string, unknown>) => without(peer, ['enabled', 'open']);
  const mapValues = <T>(object: Record<string, T>, fn: (value: T) => unknown) =>
    Object.fromEntries(Object.entries(object).map(([key, value]) => [key, fn(value)]));
  const allNodes = v1State.peerset.nodes;
  const connectedNodes = Object.fromEntries(Object.entries(allNodes).filter(([, node]) => node.connected));
  const peerSet = (nodes: Record<string, unknown>) => ({ nodes, reserved_nodes: [], reserved_only: false });
  return {
    ...without(v1State, ['averageDownloadPerSec', 'averageUploadPerSec', 'peerset']),
    connectedPeers: mapValues(v1State.connectedPeers, stripPeer),
    notConnectedPeers: mapValues(v1State.notConnectedPeers, stripPeer),
    peerId,
    peerset: {
      message_queue: v1State.peerset.message_queue,
      sets: [peerSet(allNodes), peerSet(connectedNodes), peerSet(connectedNodes)],
    },
  };
}

/**
 * The 2020 fixture as tetcore would send it (docs/wire-protocol.md#the-2020-capture). Emits a `system.connected` first (the
 * fixture has none), drops `level` and `afg.finalized`, splits `system.interval` into its chain and
 * network parts without the cpu/memory/disk fields, and converts network_state to `peerset.sets[]`.
 * The node identity defaults to the fixture's own `state.peerId`.
 */
export function fixtureToV2(messages: V1Message[], options: { id?: EnvelopeId; identity?: Partial<NodeIdentity> } = {}): string[] {
  const id = options.id ?? 1;
  const fixturePeerId = messages.find((m) => m.msg === 'system.network_state')?.state as { peerId?: string } | undefined;
  const identity: NodeIdentity = {
    name: 'fixture-node',
    networkId: fixturePeerId?.peerId ?? peerIdFor('fixture'),
    authority: true,
    chain: 'Local Testnet',
    genesisHash: hashHex('genesis', 'Local Testnet'),
    startupTime: String(Date.parse(messages[0]?.ts ?? '2020-08-19T09:00:00Z')),
    implementation: DEFAULT_IMPLEMENTATION,
    version: DEFAULT_VERSION,
    ...options.identity,
  };
  const frames = [frame(id, messages[0]?.ts ?? formatTs(0n), systemConnected(identity))];
  for (const message of messages) {
    const { ts, level: _level, ...fields } = message;
    if (message.msg === 'afg.finalized') continue;
    if (message.msg === 'system.interval') {
      const current = without(fields, V1_ONLY_INTERVAL_FIELDS) as Payload;
      frames.push(frame(id, ts, without(current, NETWORK_PART_FIELDS) as Payload));
      if (NETWORK_PART_FIELDS.some((key) => key in current)) {
        frames.push(frame(id, ts, { msg: 'system.interval', ...pick(current, NETWORK_PART_FIELDS) }));
      }
    } else if (message.msg === 'system.network_state') {
      const state = tetcoreNetworkState(fields.state as V1NetworkState, identity.networkId);
      frames.push(frame(id, ts, { msg: 'system.network_state', state }));
    } else {
      frames.push(frame(id, ts, fields));
    }
  }
  return frames;
}

function pick(object: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([key]) => keys.includes(key)));
}
