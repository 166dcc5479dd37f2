// @ts-check
// Benchmarks: pick a benchmark and one of its events; the benchmarked node's tracing.profiling messages
// between that event and its `end` are charted, one chart per target::name, in a unit that scales itself.
import { api } from '../common/api.js';
import { byId, el, setText } from '../common/dom.js';
import { renderHeader } from '../common/header.js';
import { DataState } from '../common/state.js';
import { numeric, parseTs } from '../common/format.js';
import { TimeChart } from '../common/chart.js';

const LIMIT = 10_000;

/**
 * @typedef {{ id: number, setup: any, benchmark_spec?: any, created_at: string, description: string | null, ts_start: string | null, ts_end: string | null }} Benchmark
 * @typedef {{ id: number, benchmark_id: number, name: string, phase: string, created_at: string }} BenchmarkEvent
 */

/**
 * The benchmarked node: setup.substrate.peerId (reference format) or benchmark_spec.substrate.peerId.
 * @param {Benchmark | undefined} benchmark
 * @returns {string | null}
 */
export function peerOf(benchmark) {
  return benchmark?.setup?.substrate?.peerId ?? benchmark?.benchmark_spec?.substrate?.peerId ?? null;
}

export function start() {
  renderHeader('benchmarks');
  const state = new DataState(byId('state'));
  const select = /** @type {HTMLSelectElement} */ (byId('benchmark'));
  const eventSelect = /** @type {HTMLSelectElement} */ (byId('event'));
  const targetSelect = /** @type {HTMLSelectElement} */ (byId('target'));
  /** @type {Benchmark[]} */
  let benchmarks = [];
  /** @type {BenchmarkEvent[]} */
  let events = [];

  const current = () => benchmarks.find((b) => String(b.id) === select.value);

  async function selectBenchmark() {
    const benchmark = current();
    byId('charts').replaceChildren();
    setText('result', '');
    if (!benchmark) return;
    setText('info', JSON.stringify(benchmark, null, 2));
    const [targets, allEvents] = await Promise.all([api(`/benchmarks/${benchmark.id}/targets`), api(`/benchmarks/${benchmark.id}/events`)]);
    targetSelect.replaceChildren(el('option', { value: '' }, 'ALL'), ...targets.map((/** @type {{ target: string }} */ t) => el('option', { value: t.target }, t.target)));
    events = allEvents;
    const options = events.filter((e) => e.phase !== 'end').map((e) => el('option', { value: String(e.id) }, `${e.name} (${e.phase}, ${e.created_at} UTC)`));
    if (benchmark.ts_start) options.unshift(el('option', { value: 'whole' }, `whole benchmark (${benchmark.ts_start} → ${benchmark.ts_end ?? 'now'})`));
    eventSelect.replaceChildren(...options);
  }

  /**
   * The time range to chart: the chosen event to the `end` event of the same name (or now).
   * @param {Benchmark} benchmark
   * @returns {{ start: string, end: string | null } | null}
   */
  function range(benchmark) {
    if (eventSelect.value === 'whole' && benchmark.ts_start) return { start: benchmark.ts_start, end: benchmark.ts_end };
    const begin = events.find((e) => String(e.id) === eventSelect.value);
    if (!begin) return null;
    const end = events.find((e) => e.name === begin.name && e.phase === 'end' && e.created_at > begin.created_at);
    return { start: begin.created_at, end: end?.created_at ?? null };
  }

  async function view() {
    const benchmark = current();
    const peerId = peerOf(benchmark);
    const span = benchmark && range(benchmark);
    byId('charts').replaceChildren();
    if (!peerId) return setText('result', 'This benchmark names no node: give its peer id as setup.substrate.peerId or benchmark_spec.substrate.peerId.');
    if (!span) return setText('result', 'Choose an event.');
    const query = new URLSearchParams({ peer_id: peerId, msg: 'tracing.profiling', start_time: span.start, limit: String(LIMIT) });
    if (span.end) query.set('end_time', span.end);
    if (targetSelect.value) query.set('target', targetSelect.value);
    /** @type {Array<{ created_at: string, logs: Record<string, any> }>} */
    const rows = await api(`/nodes/logs?${query}`);
    /** @type {Map<string, Array<{ t: Date | null, v: number | null }>>} */
    const groups = new Map();
    for (const row of rows) {
      const key = `${row.logs.target}::${row.logs.name}`;
      const points = groups.get(key) ?? [];
      const time = numeric(row.logs.time);
      if (time !== null) points.push({ t: parseTs(row.created_at), v: time });
      groups.set(key, points);
    }
    setText('result', `${rows.length} tracing.profiling message${rows.length === 1 ? '' : 's'} of ${peerId} from ${span.start} to ${span.end ?? 'now'} (UTC)${rows.length === LIMIT ? ` (the newest ${LIMIT} only)` : ''}.`);
    for (const key of [...groups.keys()].sort()) {
      const box = el('div', { class: 'chart panel', 'data-group': key });
      byId('charts').append(box);
      new TimeChart(box, { title: key, unit: 'ns', height: 220, points: true }).add('execution time', groups.get(key) ?? []);
    }
  }

  /** @param {() => Promise<unknown>} action */
  const guarded = (action) => () => void action().catch((error) => state.failed(error, 5000));
  select.addEventListener('change', guarded(selectBenchmark));
  byId('controls').addEventListener('submit', (event) => {
    event.preventDefault();
    guarded(view)();
  });

  let retryMs = 1000;
  async function load() {
    try {
      state.loading();
      benchmarks = await api('/benchmarks');
      select.replaceChildren(...benchmarks.map((b) => el('option', { value: String(b.id) }, `${b.created_at}${b.description ? ` — ${b.description}` : ''}`)));
      if (benchmarks.length === 0) {
        state.empty('No benchmark yet.', 'Create one with POST /benchmarks naming the node (setup.substrate.peerId), and its events with POST /benchmarks/events; see /docs.');
        return;
      }
      const wanted = new URLSearchParams(location.search).get('benchmark_id');
      if (wanted) select.value = wanted;
      state.ok();
      await selectBenchmark();
    } catch (error) {
      const wait = state.failed(error, retryMs);
      retryMs = Math.min(retryMs * 2, 30_000);
      if (wait !== null) setTimeout(() => void load(), wait);
    }
  }
  void load();
}
