// Which spooled messages are settled (stored, or dropped and counted): everything below `below`, plus a
// set above it. The checkpoint file is its copy on disk (docs/spool.md#checkpoint).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { toRanges } from './record.js';

export class Progress {
  private readonly done = new Set<number>();

  constructor(public below = 0) {}

  isDone(seq: number): boolean {
    return seq < this.below || this.done.has(seq);
  }

  markDone(seq: number): void {
    if (seq < this.below) return;
    this.done.add(seq);
  }

  markRange(first: number, end: number): void {
    for (let seq = Math.max(first, this.below); seq < end; seq++) this.done.add(seq);
  }

  /** Moves `below` over the settled seqs that follow it; returns true if it moved. */
  advance(): boolean {
    const before = this.below;
    while (this.done.delete(this.below)) this.below++;
    return this.below !== before;
  }

  /** Lowers the set to `below` (the first seq not yet appended, at start-up: nothing below is pending). */
  raiseTo(seq: number): void {
    if (seq <= this.below) return;
    for (const s of this.done) if (s < seq) this.done.delete(s);
    this.below = seq;
    this.advance();
  }

  save(file: string): void {
    const body = JSON.stringify({ committedBelow: this.below, done: toRanges([...this.done].sort((a, b) => a - b)) });
    writeFileSync(`${file}.tmp`, body);
    renameSync(`${file}.tmp`, file);
  }

  /** A missing or unreadable checkpoint is an empty one: the batch records and the database decide. */
  static load(file: string): Progress {
    try {
      const value = JSON.parse(readFileSync(file, 'utf8')) as { committedBelow?: unknown; done?: unknown };
      const progress = new Progress(typeof value.committedBelow === 'number' && Number.isSafeInteger(value.committedBelow) ? value.committedBelow : 0);
      if (Array.isArray(value.done)) for (const r of value.done as Array<[number, number]>) if (Array.isArray(r)) progress.markRange(Number(r[0]), Number(r[1]));
      progress.advance();
      return progress;
    } catch {
      return new Progress(0);
    }
  }
}
