// Aggregation of one subscription's records into time buckets, as pure state: records in, finished
// buckets out. Fixes the reference (docs/decisions.md#feed-aggregation): buckets are aligned on
// multiples of the interval and labelled with their own start; every record counts, boundary records
// included; a bucket is sent when a record of a later bucket arrives, and sent again (same label) if
// rows stored late change it.
// `tracing.profiling` is aggregated per (target, name) on `time`, as the reference did; any other
// message type on one chosen field or on every numeric field, numbers and decimal strings alike.
import type { Aggregation, AggregateType } from './protocol.js';
import { formatEpochUs } from '../domain/time.js';

export interface AggregatableRecord {
  createdAtUs: number;
  /** The stored message (minus ts, id, msg, level, line). */
  fields(): Record<string, unknown>;
}

export interface AggregatorOptions extends Aggregation {
  msg: string;
  /** Buckets ending more than this before the newest record are forgotten (late rows that old are not expected). */
  retainUs: number;
}

interface Group {
  target?: string;
  name?: string;
  values: Map<string, number[]>;
}

interface Bucket {
  groups: Map<string, Group>;
  dirty: boolean;
}

const DECIMAL = /^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
/** Keys of an aggregated element that a message field may not take over. */
const RESERVED = new Set(['created_at', 'count', 'values', 'target', 'name']);

/** A JSON number, or a string holding a decimal number; null for anything else. */
export function numericValue(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && DECIMAL.test(value)) {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** One value out of a bucket's values: integer mean of integers (as the reference), index ⌊n·q⌋ of the sorted values. */
export function aggregateValues(type: AggregateType, values: readonly number[]): number {
  switch (type) {
    case 'min':
      return values.reduce((a, b) => (b < a ? b : a));
    case 'max':
      return values.reduce((a, b) => (b > a ? b : a));
    case 'mean': {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      return values.every(Number.isInteger) ? Math.trunc(mean) : mean;
    }
    case 'median':
    case 'percentile90': {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length * (type === 'median' ? 0.5 : 0.9))];
    }
  }
}

export class Aggregator {
  private readonly buckets = new Map<number, Bucket>();
  private readonly intervalUs: number;
  private readonly grouped: boolean;
  private readonly field: string | null;
  private newestUs = -Infinity;
  /** Buckets starting before this were forgotten; their late records are ignored. */
  private forgottenBeforeUs = -Infinity;

  constructor(private readonly options: AggregatorOptions) {
    this.intervalUs = options.intervalS * 1_000_000;
    this.grouped = options.msg === 'tracing.profiling';
    this.field = options.field ?? (this.grouped ? 'time' : null);
  }

  /** Adds records (any order); returns the elements of buckets finished or changed by them. */
  add(records: readonly AggregatableRecord[]): Array<Record<string, unknown>> {
    for (const record of records) this.addOne(record);
    const currentStart = this.bucketStart(this.newestUs);
    const out: Array<Record<string, unknown>> = [];
    const starts = [...this.buckets.keys()].sort((a, b) => a - b);
    for (const start of starts) {
      const bucket = this.buckets.get(start) as Bucket;
      if (start >= currentStart) break;
      if (bucket.dirty) {
        bucket.dirty = false;
        out.push(...this.elements(start, bucket));
      }
    }
    const horizon = this.bucketStart(this.newestUs - this.options.retainUs) - this.intervalUs;
    for (const start of starts) {
      if (start >= horizon) break;
      this.buckets.delete(start);
      this.forgottenBeforeUs = Math.max(this.forgottenBeforeUs, start + this.intervalUs);
    }
    return out;
  }

  private bucketStart(us: number): number {
    return Math.floor(us / this.intervalUs) * this.intervalUs;
  }

  private addOne(record: AggregatableRecord): void {
    const start = this.bucketStart(record.createdAtUs);
    if (start < this.forgottenBeforeUs) return;
    if (record.createdAtUs > this.newestUs) this.newestUs = record.createdAtUs;
    const fields = record.fields();
    let groupKey = '';
    let target: string | undefined;
    let name: string | undefined;
    if (this.grouped) {
      if (typeof fields.target !== 'string' || typeof fields.name !== 'string') return;
      target = fields.target;
      name = fields.name;
      groupKey = `${target}\u0000${name}`;
    }
    const values: Array<[string, number]> = [];
    if (this.field !== null) {
      const v = numericValue(fields[this.field]);
      if (v !== null) values.push([this.field, v]);
    } else {
      for (const [k, raw] of Object.entries(fields)) {
        if (RESERVED.has(k)) continue;
        const v = numericValue(raw);
        if (v !== null) values.push([k, v]);
      }
    }
    if (values.length === 0) return;
    let bucket = this.buckets.get(start);
    if (bucket === undefined) {
      bucket = { groups: new Map(), dirty: false };
      this.buckets.set(start, bucket);
    }
    bucket.dirty = true;
    let group = bucket.groups.get(groupKey);
    if (group === undefined) {
      group = { target, name, values: new Map() };
      bucket.groups.set(groupKey, group);
    }
    for (const [k, v] of values) {
      const list = group.values.get(k);
      if (list) list.push(v);
      else group.values.set(k, [v]);
    }
  }

  private elements(start: number, bucket: Bucket): Array<Record<string, unknown>> {
    const label = formatEpochUs(start);
    const out: Array<Record<string, unknown>> = [];
    const groups = [...bucket.groups.values()].sort((a, b) => (a.target ?? '').localeCompare(b.target ?? '') || (a.name ?? '').localeCompare(b.name ?? ''));
    for (const group of groups) {
      const element: Record<string, unknown> = {};
      let count = 0;
      for (const [k, list] of [...group.values.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        element[k] = aggregateValues(this.options.type, list);
        count = Math.max(count, list.length);
      }
      if (this.grouped) {
        element.name = group.name;
        element.target = group.target;
      }
      element.values = `${this.options.type} of ${count} value${count === 1 ? '' : 's'}`;
      element.count = count;
      element.created_at = label;
      out.push(element);
    }
    return out;
  }
}
