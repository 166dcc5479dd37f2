// Recomputes the network-analytics tables from the stored messages (npm run analytics:rebuild): deletes
// the facts derived from messages of [since, until), derives them again set-based, one time slice per
// statement (slices sized to about SLICE_TARGET candidate messages), then recomputes the blocks and
// finalized heights touched and their summaries. Idempotent. Rebuilt rows carry the node's ts as their
// receipt time (old messages have no other), see docs/analytics.md.
import type { Database } from '../storage/database.js';
import { beginRebuild, finishRebuild, messagesBetween, messageSpan, rebuildSlice, summarizeSettledBlocks } from '../storage/analytics-write.js';
import { SUMMARY_STEP_BLOCKS } from './summarizer.js';

export interface RebuildOptions {
  /** Naive UTC text; default: the oldest message. */
  since?: string;
  /** Naive UTC text; default: now (messages stored later keep the facts derived at ingestion). */
  until?: string;
  onProgress?: (progress: RebuildProgress) => void;
}

export interface RebuildProgress {
  phase: 'deleting' | 'deriving' | 'recomputing blocks' | 'summarizing' | 'done';
  /** Share of the time range derived, 0–1. */
  fraction: number;
  /** Messages in the range (all types) and candidates (types that carry facts) derived so far. */
  messages: number;
  candidates: number;
  arrivals: number;
  reports: number;
  elapsedMs: number;
}

export interface RebuildResult extends RebuildProgress {
  since: string;
  until: string;
  arrivalsDeleted: number;
  reportsDeleted: number;
  blocks: number;
  heights: number;
  summarized: number;
}

const SLICE_TARGET = 200_000;
const FIRST_SLICE_MS = 10 * 60_000;
const MIN_SLICE_MS = 1000;
const MAX_SLICE_MS = 7 * 24 * 3600_000;

const utcText = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
function epochMs(text: string): number {
  const dot = text.indexOf('.');
  return Date.parse(`${(dot === -1 ? text : text.slice(0, dot)).replace(' ', 'T')}Z`) + (dot === -1 ? 0 : Number(`0.${text.slice(dot + 1)}`) * 1000);
}

export async function rebuildAnalytics(db: Database, options: RebuildOptions = {}): Promise<RebuildResult> {
  const started = Date.now();
  const span = await messageSpan(db);
  const since = options.since ?? span.oldest ?? utcText(started);
  const until = options.until ?? utcText(started);
  const sinceMs = Math.floor(epochMs(since));
  const untilMs = epochMs(until);
  const progress: RebuildProgress = { phase: 'deleting', fraction: 0, messages: 0, candidates: 0, arrivals: 0, reports: 0, elapsedMs: 0 };
  const report = (patch: Partial<RebuildProgress>) => {
    Object.assign(progress, patch, { elapsedMs: Date.now() - started });
    options.onProgress?.({ ...progress });
  };
  return db.session(async (session) => {
    report({});
    const deleted = await beginRebuild(session, since, until);
    const messages = await messagesBetween(session, since, until);
    report({ phase: 'deriving', messages });
    let sliceMs = FIRST_SLICE_MS;
    for (let from = sinceMs; from < untilMs; ) {
      const to = Math.min(untilMs, from + sliceMs);
      const slice = await rebuildSlice(session, from === sinceMs ? since : utcText(from), to === untilMs ? until : utcText(to));
      report({
        fraction: (to - sinceMs) / Math.max(1, untilMs - sinceMs),
        candidates: progress.candidates + slice.candidates,
        arrivals: progress.arrivals + slice.arrivals,
        reports: progress.reports + slice.reports,
      });
      // Aim the next slice at SLICE_TARGET candidates, from this one's density (at most ×4 per step).
      const scale = slice.candidates === 0 ? 4 : Math.min(4, Math.max(0.25, SLICE_TARGET / slice.candidates));
      sliceMs = Math.min(MAX_SLICE_MS, Math.max(MIN_SLICE_MS, Math.round(sliceMs * scale)));
      from = to;
    }
    report({ phase: 'recomputing blocks', fraction: 1 });
    const keys = await finishRebuild(session);
    report({ phase: 'summarizing' });
    let summarized = 0;
    for (;;) {
      const step = await summarizeSettledBlocks(db, 0, SUMMARY_STEP_BLOCKS * 5);
      if (step === null) {
        // The summary job of a running server holds the lock: it is summarizing these blocks too.
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      summarized += step.summarized;
      if (step.summarized < SUMMARY_STEP_BLOCKS * 5) break;
    }
    report({ phase: 'done' });
    return { ...progress, since, until, arrivalsDeleted: deleted.arrivalsDeleted, reportsDeleted: deleted.reportsDeleted, blocks: keys.blocks, heights: keys.heights, summarized };
  });
}
