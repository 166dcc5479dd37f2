// Printing and saving results: a table on stdout and a JSON file under bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './server.js';
import { machine } from './proc.js';

export interface Row {
  [column: string]: string | number | boolean | null;
}

export function table(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return;
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 3 }) : typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => `| ${values.map((v, i) => (/^-?[\d,.]+$/.test(v) ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join(' | ')} |`;
  console.log(line(columns));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(columns.map((c) => cell(r[c]))));
}

/** Key/value table of one flat object. */
export function keyValues(title: string, values: Record<string, unknown>): void {
  table(title, Object.entries(values).map(([key, value]) => ({ measure: key, value: typeof value === 'object' && value !== null ? JSON.stringify(value) : (value as Row[string]) })));
}

export function save(name: string, result: Record<string, unknown>): string {
  const date = new Date().toISOString();
  const dir = path.join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ benchmark: name, date, machine: machine(), ...result }, null, 2));
  console.log(`written ${path.relative(ROOT, file)}`);
  return file;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passes; returns whether it became true. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}
