// Process accounting from /proc: CPU seconds, peak RSS, and the CPU of the PostgreSQL processes that
// serve one database (its backends) plus the shared auxiliary processes (WAL writer, checkpointer…).
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem, loadavg, release } from 'node:os';

const TICK = 100; // USER_HZ on Linux

/** utime + stime of a process, in seconds; NaN once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICK;
  } catch {
    return NaN;
  }
}

/** Peak resident set size (VmHWM) of a live process, MiB. */
export function peakRssMiB(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:')) ?? '0';
    return Number(line.replace(/\D+/g, '')) / 1024;
  } catch {
    return NaN;
  }
}

/** Current resident set size (VmRSS), MiB. */
export function rssMiB(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) ?? '0';
    return Number(line.replace(/\D+/g, '')) / 1024;
  } catch {
    return NaN;
  }
}

/** Total CPU time of the machine (all cores, all modes but idle/iowait), seconds. */
export function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / TICK;
}

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * Follows the CPU used by PostgreSQL for one database: the backends whose title names the database
 * (`postgres: 15/main: user db 127.0.0.1(…) …`) and the auxiliary processes every database shares.
 * Sampled every `periodMs`, so short-lived backends are counted too (to the last sample).
 */
export class PostgresCpu {
  private readonly last = new Map<string, number>();
  private readonly first = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private started = false;

  constructor(private readonly database: string, private readonly periodMs = 500) {}

  private sample(): void {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const title = cmdline(pid);
      if (!title.startsWith('postgres')) continue;
      const ours = title.includes(` ${this.database} `) || / (walwriter|checkpointer|background writer|walsender|logical replication launcher|autovacuum launcher)/.test(title);
      if (!ours) continue;
      const cpu = cpuSeconds(Number(pid));
      if (Number.isNaN(cpu)) continue;
      // Processes already running at start() count from there; later ones from their birth.
      if (!this.first.has(pid)) this.first.set(pid, this.started ? 0 : cpu);
      this.last.set(pid, cpu);
    }
  }

  start(): this {
    this.sample();
    this.started = true;
    this.timer = setInterval(() => this.sample(), this.periodMs);
    this.timer.unref();
    return this;
  }

  /** CPU seconds used since start(). Backends started after start() count from their birth. */
  stop(): number {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    let total = 0;
    for (const [pid, cpu] of this.last) {
      const base = this.first.get(pid) ?? 0;
      total += cpu - base;
    }
    return total;
  }
}

export function machine() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
  };
}
