// Benchmarks: pick a benchmark and one of its events; the benchmarked node's tracing.profiling
// messages between that event and its `end` are charted, one chart per target::name, in ms.
import { api, parseTs, numeric, el } from '/dashboard/common/app.js';
import { TimeChart } from '/dashboard/common/chart.js';

const $ = (id) => document.getElementById(id);
const LIMIT = 10_000;
let benchmarks = [];
let events = [];

/** The benchmarked node: setup.substrate.peerId (reference format) or benchmark_spec.substrate.peerId. */
function peerOf(benchmark) {
  return benchmark?.setup?.substrate?.peerId ?? benchmark?.benchmark_spec?.substrate?.peerId ?? null;
}

function current() {
  return benchmarks.find((b) => String(b.id) === $('benchmark').value);
}

async function selectBenchmark() {
  const benchmark = current();
  $('charts').replaceChildren();
  $('result').textContent = '';
  if (!benchmark) return;
  $('info').textContent = JSON.stringify(benchmark, null, 2);
  const [targets, allEvents] = await Promise.all([api(`/benchmarks/${benchmark.id}/targets`), api(`/benchmarks/${benchmark.id}/events`)]);
  $('target').replaceChildren(el('option', { value: '' }, 'ALL'), ...targets.map((t) => el('option', { value: t.target }, t.target)));
  events = allEvents;
  const starts = events.filter((e) => e.phase !== 'end');
  const options = starts.map((e) => el('option', { value: String(e.id) }, `${e.name} (${e.phase}, ${e.created_at})`));
  if (benchmark.ts_start) options.unshift(el('option', { value: 'whole' }, `whole benchmark (${benchmark.ts_start} → ${benchmark.ts_end ?? 'now'})`));
  $('event').replaceChildren(...options);
}

/** The time range to chart: the chosen event to the `end` event of the same name (or now). */
function range(benchmark) {
  if ($('event').value === 'whole') return { start: benchmark.ts_start, end: benchmark.ts_end };
  const start = events.find((e) => String(e.id) === $('event').value);
  if (!start) return null;
  const end = events.find((e) => e.name === start.name && e.phase === 'end' && e.created_at > start.created_at);
  return { start: start.created_at, end: end?.created_at ?? null };
}

async function view() {
  const benchmark = current();
  const peerId = peerOf(benchmark);
  const span = benchmark && range(benchmark);
  $('charts').replaceChildren();
  if (!peerId) return ($('result').textContent = 'This benchmark names no node (setup.substrate.peerId).');
  if (!span) return ($('result').textContent = 'Choose an event.');
  const query = new URLSearchParams({ peer_id: peerId, msg: 'tracing.profiling', start_time: span.start, limit: String(LIMIT) });
  if (span.end) query.set('end_time', span.end);
  if ($('target').value) query.set('target', $('target').value);
  const rows = await api(`/nodes/logs?${query}`);
  const groups = new Map();
  for (const row of rows) {
    const key = `${row.logs.target}::${row.logs.name}`;
    const points = groups.get(key) ?? [];
    const time = numeric(row.logs.time);
    if (time !== null) points.push({ t: parseTs(row.created_at), v: time / 1e6 });
    groups.set(key, points);
  }
  $('result').textContent = `${rows.length} tracing.profiling message${rows.length === 1 ? '' : 's'} of ${peerId} from ${span.start} to ${span.end ?? 'now'}${rows.length === LIMIT ? ' (the newest ' + LIMIT + ' only)' : ''}.`;
  for (const key of [...groups.keys()].sort()) {
    const box = el('div', { class: 'chart panel', 'data-group': key });
    $('charts').append(box);
    new TimeChart(box, { title: key, yLabel: 'Execution time (ms)', height: 220 }).add('time (ms)', groups.get(key));
  }
}

$('benchmark').addEventListener('change', () => selectBenchmark().catch((e) => console.warn(e.message)));
$('controls').addEventListener('submit', (event) => {
  event.preventDefault();
  view().catch((e) => console.warn(e.message));
});

async function load() {
  benchmarks = await api('/benchmarks');
  $('benchmark').replaceChildren(...benchmarks.map((b) => el('option', { value: String(b.id) }, `${b.created_at}${b.description ? ` — ${b.description}` : ''}`)));
  const wanted = new URLSearchParams(location.search).get('benchmark_id');
  if (wanted) $('benchmark').value = wanted;
  await selectBenchmark();
}

load().catch((error) => console.warn('could not load the benchmarks:', error.message));
