// A PostgreSQL outage with the disk spool: sockets keep being read, /ready stays ready, no backpressure,
// nothing lost or stored twice, and the writer's memory stays bounded (the backlog is read back from disk).
// Then a spool too small for the outage: backpressure starts (counted) and nothing spooled is lost; and a
// disk too small (a 384 KiB tmpfs, mounted by the test: it runs as root, as CI does): ENOSPC is counted,
// messages wait in memory, nothing is lost.
// SPOOL_OUTAGE_S / SPOOL_OUTAGE_NODES lengthen it; test/chaos/spool-outage.test.ts is the 5-minute run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSpoolOutage } from '../helpers/spool-outage.js';

const OUTAGE_S = Number(process.env.SPOOL_OUTAGE_S ?? 20);
const NODES = Number(process.env.SPOOL_OUTAGE_NODES ?? 50);
const INTERVAL_MS = 100;
/** Well under the outage's backlog (a quarter of it, at most 2,000), so that the backlog must come back from disk. */
const BUFFER_MAX_ROWS = Math.max(10, Math.min(2000, Math.floor((NODES * OUTAGE_S * 1000) / INTERVAL_MS / 4)));

describe('database outage with the disk spool (postgres)', () => {
  it(`${OUTAGE_S} s outage, ${NODES} nodes: no backpressure, nothing lost or duplicated, memory bounded`, { timeout: (OUTAGE_S * 3 + 120) * 1000 }, async () => {
    const f = await runSpoolOutage({ outageS: OUTAGE_S, nodes: NODES, intervalMs: INTERVAL_MS, bufferMaxRows: BUFFER_MAX_ROWS });
    console.log(`spool outage: ${JSON.stringify(f)}`);
    assert.equal(f.readyDuringOutage, 200, '/ready stays ready while spooling');
    assert.equal(f.backpressure, 0, 'no backpressure');
    assert.equal(f.stored, f.sent, 'every message stored');
    assert.equal(f.distinct, f.sent, 'none twice');
    assert.equal(f.dropped, 0);
    assert.ok(f.replayed > 0, 'the backlog was read back from disk');
    assert.ok(f.peakWriterRows <= BUFFER_MAX_ROWS, `the writer held at most BUFFER_MAX_ROWS (${f.peakWriterRows})`);
  });

  it('a spool smaller than the outage: backpressure starts, counted, and nothing spooled is lost', { timeout: 180_000 }, async () => {
    const f = await runSpoolOutage({ outageS: 5, nodes: 20, intervalMs: 50, spoolMaxBytes: 256 * 1024, bufferMaxRows: 500 });
    console.log(`spool full: ${JSON.stringify(f)}`);
    assert.ok(f.backpressure >= 1, 'the full spool paused the sockets');
    assert.equal(f.stored, f.sent, 'every message stored (the nodes waited while paused)');
    assert.equal(f.distinct, f.sent, 'none twice');
    assert.equal(f.dropped, 0);
  });

  it('a full disk (ENOSPC): counted, messages wait in memory, nothing spooled or received is lost', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tetcore-spool-enospc-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=384k', 'tmpfs', dir]);
    try {
      const f = await runSpoolOutage({ outageS: 5, nodes: 20, intervalMs: 50, spoolMaxBytes: 64 * 1024 * 1024, bufferMaxRows: 100_000, spoolDir: dir });
      console.log(`spool disk full: ${JSON.stringify(f)}`);
      assert.ok(f.diskErrors >= 1, 'ENOSPC counted');
      assert.equal(f.diskFailedDuringOutage, true, 'the spool was bypassed');
      assert.equal(f.backpressure, 0);
      assert.equal(f.stored, f.sent, 'every message stored');
      assert.equal(f.distinct, f.sent, 'none twice');
      assert.equal(f.dropped, 0);
    } finally {
      execFileSync('umount', [dir]);
      rmdirSync(dir);
    }
  });
});
