// Host-wide figures the reference exposed (network bytes, load, memory, swap), read cheaply at scrape
// time: two small /proc files and os.loadavg(), never a full system snapshot (docs/decisions.md#metrics). Off Linux, what
// node:os offers and zeros for the rest.
import os from 'node:os';
import { readFile } from 'node:fs/promises';

export interface HostMemory {
  /** KiB, like the reference. */
  totalMem: number;
  usedMem: number;
  totalSwap: number;
  usedSwap: number;
}

export interface HostNetwork {
  /** Bytes summed over every interface, loopback included, as the reference did. */
  received: number;
  sent: number;
}

/** Parses /proc/meminfo ("MemTotal:  16318412 kB" lines) into KiB figures. */
export function parseMeminfo(text: string): HostMemory {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) values.set(m[1], Number(m[2]));
  }
  const total = values.get('MemTotal') ?? 0;
  // "Used" as free(1) reports it: what is not available to new programs.
  const available = values.get('MemAvailable') ?? (values.get('MemFree') ?? 0) + (values.get('Buffers') ?? 0) + (values.get('Cached') ?? 0);
  const swapTotal = values.get('SwapTotal') ?? 0;
  const swapFree = values.get('SwapFree') ?? 0;
  return { totalMem: total, usedMem: Math.max(0, total - available), totalSwap: swapTotal, usedSwap: Math.max(0, swapTotal - swapFree) };
}

/** Parses /proc/net/dev: sums received and transmitted bytes over all interfaces. */
export function parseNetDev(text: string): HostNetwork {
  let received = 0;
  let sent = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (fields.length < 9 || fields.some((f) => !Number.isFinite(f))) continue;
    received += fields[0];
    sent += fields[8];
  }
  return { received, sent };
}

export async function readHostMemory(): Promise<HostMemory> {
  try {
    return parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
  } catch {
    const total = Math.round(os.totalmem() / 1024);
    return { totalMem: total, usedMem: total - Math.round(os.freemem() / 1024), totalSwap: 0, usedSwap: 0 };
  }
}

export async function readHostNetwork(): Promise<HostNetwork | null> {
  try {
    return parseNetDev(await readFile('/proc/net/dev', 'utf8'));
  } catch {
    return null;
  }
}
