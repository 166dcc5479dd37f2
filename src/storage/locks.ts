// The advisory-lock keys of this application, in one place so that no two jobs share a key by accident.
// Fixed numbers: every server sharing a database must use the same ones (docs/retention.md, docs/analytics.md).

/** Serialises migrations across instances (transaction lock). */
export const MIGRATION_LOCK_KEY = 7_305_001;
/** Serialises changes to the partition tiling (attach) across instances (transaction lock). */
export const PARTITION_LOCK_KEY = 7_305_002;
/** Held by the instance that purges, for the whole run (session lock). */
export const PURGE_LOCK_KEY = 7_305_003;
/** Serialises the analytics summary job (and analytics:rebuild) across servers (transaction lock). */
export const ANALYTICS_LOCK_KEY = 7_305_007;
