// A node's identity as its messages tell it (system.connected, a V1 network state's peerId): the fields
// of peer_connections, and the bounds on their texts (docs/decisions.md#node-identity). Shared by the parser,
// the node handles, the storage and the metrics.

/** Identity fields of peer_connections, as far as this message tells them. */
export interface Identity {
  peerId?: string;
  name?: string;
  chain?: string;
  version?: string;
  authority?: boolean;
  /** ms since the epoch, as decimal text (BIGINT). */
  startupTime?: string;
  implementation?: string;
  genesisHash?: string;
}

/**
 * Longest identity texts kept, in UTF-16 code units; a longer value is ignored (the message itself is still
 * stored) and counted in `tetcore_identity_fields_rejected_total{field}`. Real nodes stay far below:
 * libp2p peer ids are 46–53 characters, Substrate caps node names at 64, chain names, versions
 * (`2.0.0-rc6-a7bbd5e-x86_64-linux-gnu`) and implementation names are a few dozen, a genesis hash is
 * `0x` + 64 hex digits (130 allows a 64-byte hash). Unbounded, one 8,000-character peer id made
 * PostgreSQL refuse the peer_connections update (btree index rows are limited to 2,704 bytes).
 */
export const IDENTITY_LIMITS = {
  peer_id: 128,
  name: 256,
  chain: 128,
  version: 128,
  implementation: 128,
  genesis_hash: 130,
} as const;
/** The identity fields that are bounded, by their peer_connections column (the metric's `field` label). */
export type IdentityColumn = keyof typeof IDENTITY_LIMITS;
export const IDENTITY_COLUMNS = Object.keys(IDENTITY_LIMITS) as IdentityColumn[];
