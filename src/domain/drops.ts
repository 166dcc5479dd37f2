// Why an accepted message was not stored: the reasons of tetcore_messages_dropped_total{reason}, shared by
// the parser, the writer, the metrics and the logs (docs/decisions.md#nothing-lost-silently).

export const DROP_REASONS = [
  'invalid_utf8',
  'invalid_json',
  /** Arrays/objects nested deeper than MAX_JSON_DEPTH (json-depth.ts). */
  'too_deep',
  'not_an_object',
  'bad_envelope',
  'missing_ts',
  'invalid_ts',
  /** `ts` more than MAX_FUTURE_SKEW_S ahead of the server's clock. */
  'ts_in_future',
  'too_many_nodes',
  'rejected_by_database',
  /** A spool record cut short or failing its checksum (docs/spool.md#corrupt-records): its messages are lost. */
  'spool_corrupt',
  /** The database refused to create the node's peer_connections row, so its messages have nowhere to go. */
  'connection_rejected_by_database',
  'shutdown_timeout',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];
