// What "connected" means, in one place (docs/decisions.md#disconnections-recorded): a connection row is
// connected while it has no disconnected_at and its server refreshed last_seen within CONNECTED_WINDOW_S.
// `/nodes`, the analytics' node counts and `/feed/rates` all use this window.

/** A connection whose server has not refreshed `last_seen` for this long is not connected (its server stopped). */
export const CONNECTED_WINDOW_S = 60;

/**
 * The longest LIVENESS_INTERVAL_S: three refreshes fit in CONNECTED_WINDOW_S, so one slow or lost refresh
 * (a busy database) does not make every node of a server look disconnected.
 */
export const MAX_LIVENESS_INTERVAL_S = CONNECTED_WINDOW_S / 3;
