// Exclusive use of a data folder by one process: a lock file holding the owner's pid, created with
// O_EXCL, taken over when its owner is gone, removed on close and on process exit. The embedded database
// (and anything else kept in DATA_DIR) relies on it: two processes on one folder corrupt it.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';

export const LOCK_FILE_NAME = 'tetcore-analytics.lock';

interface Owner {
  pid: number;
  /** Start time of the process (Linux: field 22 of /proc/<pid>/stat), so a reused pid is not taken for the owner. */
  started: string | null;
}

/** Thrown when another live process holds the folder. */
export class DataDirInUseError extends AppError {
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
    /** The setting that names the folder: DATA_DIR, or SPOOL_DIR for the disk spool. */
    readonly setting = 'DATA_DIR',
  ) {
    super(
      'DATA_DIR_IN_USE',
      `the data folder ${dataDir} (${setting}) is in use by another tetcore-analytics process, pid ${ownerPid}; stop that one or choose another ${setting}`,
    );
  }
}

function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count fields after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  // The pid exists; it is the owner unless it was reused by a process started at another time.
  if (owner.started === null) return true;
  const started = processStartTime(owner.pid);
  return started === null || started === owner.started;
}

function parseOwner(text: string): Owner | null {
  try {
    const value = JSON.parse(text) as Partial<Owner>;
    if (typeof value.pid === 'number' && Number.isSafeInteger(value.pid) && value.pid > 0) return { pid: value.pid, started: typeof value.started === 'string' ? value.started : null };
  } catch {
    // fall through: not ours, or written half-way by a process that died while writing it
  }
  return null;
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Locks held by this process, by file: opening one folder twice in one process is refused too. */
const heldHere = new Set<string>();

export class DataDirLock {
  private released = false;
  private readonly onExit = () => this.release();

  private constructor(
    readonly file: string,
    private readonly content: string,
  ) {
    heldHere.add(file);
    process.once('exit', this.onExit);
  }

  /**
   * Takes the folder (which must exist). Throws DataDirInUseError when a live process holds it; a lock
   * left by a process that is gone (kill -9, power loss, a container restarted with the same pid) is taken over.
   */
  static acquire(dataDir: string, setting = 'DATA_DIR'): DataDirLock {
    const file = path.join(path.resolve(dataDir), LOCK_FILE_NAME);
    const content = JSON.stringify({ pid: process.pid, started: processStartTime(process.pid) } satisfies Owner) + '\n';
    if (heldHere.has(file)) throw new DataDirInUseError(dataDir, process.pid, setting);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o644);
        try {
          writeSync(fd, content);
        } finally {
          closeSync(fd);
        }
        return new DataDirLock(file, content);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const existing = readText(file);
      if (existing === null) continue; // released meanwhile
      const owner = parseOwner(existing);
      // Our own pid in a lock we do not hold is a previous life of this pid (containers restart as pid 1).
      if (owner !== null && owner.pid !== process.pid && isAlive(owner)) throw new DataDirInUseError(dataDir, owner.pid, setting);
      // Stale. Remove it only if it is still the one judged stale (another starter may have replaced it).
      if (readText(file) === existing) unlinkSync(file);
    }
    const owner = parseOwner(readText(file) ?? '');
    throw new DataDirInUseError(dataDir, owner?.pid ?? 0, setting);
  }

  /** Removes the lock file if it is still ours. Idempotent; also runs on process exit. */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.file);
    process.removeListener('exit', this.onExit);
    try {
      if (readText(this.file) === this.content) unlinkSync(this.file);
    } catch {
      // the folder is gone or read-only: nothing left to release
    }
  }
}
