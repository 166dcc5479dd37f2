// The data folder lock: one process per DATA_DIR, a lock of a dead process is taken over, the lock is
// removed on release; and the embedded database takes it when opened on a folder.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataDirInUseError, DataDirLock, LOCK_FILE_NAME } from '../../src/storage/data-dir-lock.js';
import { EmbeddedDatabase } from '../../src/storage/embedded.js';

/** A pid that surely belongs to no running process: one of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

describe('data folder lock', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tetcore-lock-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the pid, refuses a second holder, and removes the file on release', () => {
    const lock = DataDirLock.acquire(dir);
    const file = path.join(dir, LOCK_FILE_NAME);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid);
    assert.throws(() => DataDirLock.acquire(dir), (error: unknown) => error instanceof DataDirInUseError && error.ownerPid === process.pid);
    // The disk spool's folder is named by its own setting, so the refusal tells the operator which one to change.
    assert.throws(() => DataDirLock.acquire(dir, 'SPOOL_DIR'), /\(SPOOL_DIR\) is in use by another tetcore-analytics process, pid \d+; stop that one or choose another SPOOL_DIR/);
    lock.release();
    assert.equal(existsSync(file), false);
    lock.release(); // idempotent
    DataDirLock.acquire(dir).release();
  });

  it('refuses a folder held by another live process, naming the folder and its pid', async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeFileSync(path.join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: holder.pid, started: null }));
      assert.throws(() => DataDirLock.acquire(dir), (error: unknown) => {
        assert.ok(error instanceof DataDirInUseError);
        assert.match(error.message, new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(DATA_DIR\\) is in use by another tetcore-analytics process, pid ${holder.pid}`));
        return true;
      });
    } finally {
      holder.kill();
      rmSync(path.join(dir, LOCK_FILE_NAME), { force: true });
    }
  });

  it('takes over the lock of a process that is gone (kill -9), and of a garbled lock file', async () => {
    writeFileSync(path.join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: await deadPid(), started: null }));
    let lock = DataDirLock.acquire(dir);
    assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE_NAME), 'utf8')).pid, process.pid);
    lock.release();
    writeFileSync(path.join(dir, LOCK_FILE_NAME), '{"pi');
    lock = DataDirLock.acquire(dir);
    lock.release();
  });

  it('takes over a lock naming a live pid whose process started at another time (a reused pid)', () => {
    writeFileSync(path.join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: process.ppid, started: '1' }));
    const lock = DataDirLock.acquire(dir);
    lock.release();
  });

  it('takes over a lock naming this very pid (a container restarted as the same pid) when this process does not hold it', () => {
    writeFileSync(path.join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: process.pid, started: 'an earlier life' }));
    const lock = DataDirLock.acquire(dir);
    lock.release();
  });

  it('the embedded database locks its folder while open and unlocks it on close', async () => {
    const dataDir = path.join(dir, 'db');
    const db = await EmbeddedDatabase.open(dataDir);
    try {
      assert.equal(JSON.parse(readFileSync(path.join(dataDir, LOCK_FILE_NAME), 'utf8')).pid, process.pid);
      await assert.rejects(EmbeddedDatabase.open(dataDir), DataDirInUseError);
    } finally {
      await db.close();
    }
    assert.equal(existsSync(path.join(dataDir, LOCK_FILE_NAME)), false);
  });
});
