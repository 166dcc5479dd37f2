// Collects every line a logger writes, for tests of what the server logs.
import type { LogOutput } from '../../src/config/logger.js';

/** Collects every line a logger writes. */
export class Collector implements LogOutput {
  readonly lines: string[] = [];
  isTTY = false;
  write(line: string): void {
    this.lines.push(...line.split('\n').filter((l) => l !== ''));
  }
  get text(): string {
    return this.lines.join('\n');
  }
  entries(): Array<Record<string, any>> {
    return this.lines.map((line) => JSON.parse(line));
  }
}
