// Expands the peerset of a system.network_state message into the reference's parallel arrays, for both
// shapes: older Substrate `peerset.nodes` and Tetcore `peerset.sets[].nodes`. A peer in several sets
// appears once: reputation from the first set that has it (peerset reputation is per peer, so the sets
// agree), connected if connected in any set. Entries whose reputation is not a number are skipped; a
// connected flag that is not a boolean counts as false. Arrays are in JSONB key order (shorter ids first,
// then bytewise), the order the reference produced.

export interface ReputationArrays {
  remote_peer: string[];
  reputation: number[];
  connected: boolean[];
}

type Nodes = Record<string, unknown>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const jsonbOrder = (a: string, b: string) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

/** `peersetJson` is the text of `state.peerset`; `keep` (if given) filters the remote peers. */
export function expandPeerset(peersetJson: string | null, keep?: Set<string>): ReputationArrays {
  const out: ReputationArrays = { remote_peer: [], reputation: [], connected: [] };
  if (peersetJson === null) return out;
  const peerset = JSON.parse(peersetJson) as unknown;
  if (!isObject(peerset)) return out;
  const maps: Nodes[] = [];
  if (isObject(peerset.nodes)) maps.push(peerset.nodes);
  if (Array.isArray(peerset.sets)) for (const set of peerset.sets) if (isObject(set) && isObject(set.nodes)) maps.push(set.nodes);
  const index = new Map<string, number>();
  let appended = false;
  for (let m = 0; m < maps.length; m++) {
    for (const [peer, entry] of Object.entries(maps[m])) {
      if (!isObject(entry)) continue;
      if (keep !== undefined && !keep.has(peer)) continue;
      const connected = entry.connected === true;
      const seen = index.get(peer);
      if (seen !== undefined) {
        if (connected) out.connected[seen] = true;
        continue;
      }
      if (typeof entry.reputation !== 'number' || !Number.isFinite(entry.reputation)) continue;
      index.set(peer, out.remote_peer.length);
      out.remote_peer.push(peer);
      out.reputation.push(Math.trunc(entry.reputation));
      out.connected.push(connected);
      if (m > 0) appended = true;
    }
  }
  // JSON.parse keeps JSONB's key order within one map; peers first met in a later set need sorting in.
  if (appended || maps.length > 1) {
    const order = out.remote_peer.map((_, i) => i).sort((a, b) => jsonbOrder(out.remote_peer[a], out.remote_peer[b]));
    return { remote_peer: order.map((i) => out.remote_peer[i]), reputation: order.map((i) => out.reputation[i]), connected: order.map((i) => out.connected[i]) };
  }
  return out;
}

/** One peer's entry in a network state, from its entries in each set: first numeric reputation, connected in any. */
export function mergeEntries(entriesJson: string): { reputation: number; connected: boolean } | null {
  const entries = JSON.parse(entriesJson) as unknown;
  if (!Array.isArray(entries)) return null;
  let reputation: number | null = null;
  let connected = false;
  for (const entry of entries) {
    if (!isObject(entry)) continue;
    if (reputation === null && typeof entry.reputation === 'number' && Number.isFinite(entry.reputation)) reputation = Math.trunc(entry.reputation);
    if (entry.connected === true) connected = true;
  }
  return reputation === null ? null : { reputation, connected };
}
