// test:deploy — what the operators' own tools say about deploy/: yamllint on every YAML file (and on
// rendered Kubernetes manifests), promtool on the Prometheus configuration and alert rules (including
// their unit tests), systemd-analyze on the systemd unit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/process.js';
import { render } from '../../deploy/kubernetes/render.js';
import { preflightTools } from './container.js';

const UNIT = path.join(ROOT, 'deploy/systemd/tetcore-analytics.service');

/** Runs a tool; returns its exit code and everything it printed. */
function tool(command: string, args: string[], cwd = ROOT): { code: number | null; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw result.error;
  return { code: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

function assertClean(result: { code: number | null; output: string }, what: string): void {
  assert.equal(result.code, 0, `${what} failed:\n${result.output}`);
}

describe('operators\' tools on deploy/', () => {
  preflightTools([['yamllint', 'yamllint'], ['promtool', 'prometheus'], ['systemd-analyze', 'systemd']]);

  it('yamllint: every YAML file under deploy/, and manifests rendered from the example values', () => {
    assertClean(tool('yamllint', ['--strict', '-f', 'parsable', '-c', 'deploy/.yamllint.yml', 'deploy']), 'yamllint deploy/');
    const dir = mkdtempSync(path.join(tmpdir(), 'tetcore-rendered-'));
    try {
      const values = JSON.parse(readFileSync(path.join(ROOT, 'deploy/kubernetes/values.example.json'), 'utf8'));
      const file = path.join(dir, 'tetcore-analytics.yml');
      writeFileSync(file, render(values, { DATABASE_URL: 'postgres://tetcore:password@db:5432/tetcore', API_TOKEN: 'x'.repeat(24) }));
      assertClean(tool('yamllint', ['--strict', '-f', 'parsable', '-c', 'deploy/.yamllint.yml', file]), 'yamllint on rendered manifests');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('promtool: the Prometheus configuration, the alert rules, and the rules\' unit tests', () => {
    const dir = path.join(ROOT, 'deploy/prometheus');
    assertClean(tool('promtool', ['check', 'config', 'prometheus.yml'], dir), 'promtool check config');
    assertClean(tool('promtool', ['check', 'rules', 'alerts.yml'], dir), 'promtool check rules');
    assertClean(tool('promtool', ['test', 'rules', 'alerts.test.yml'], dir), 'promtool test rules');
  });

  it('systemd-analyze verify: the unit is clean (any warning counts), and its sandboxing stays tight', () => {
    const text = readFileSync(UNIT, 'utf8');
    const execStart = /^ExecStart=(\S+)/m.exec(text)![1];
    assert.equal(execStart, '/usr/bin/node', 'the documented install path');
    // verify checks that ExecStart is executable: where node lives elsewhere, check a copy that runs it.
    const node = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
    const dir = mkdtempSync(path.join(tmpdir(), 'tetcore-unit-'));
    try {
      const unit = path.join(dir, 'tetcore-analytics.service');
      writeFileSync(unit, node === execStart ? text : text.replace(/^ExecStart=\S+/m, `ExecStart=${node}`));
      const verify = tool('systemd-analyze', ['verify', unit]);
      assertClean(verify, 'systemd-analyze verify');
      assert.equal(verify.output, '', `systemd-analyze verify warned:\n${verify.output}`);
      // The same check notices a misspelt directive (a warning, exit code 0): the empty output is what counts.
      const misspelt = path.join(dir, 'misspelt', 'tetcore-analytics.service');
      execFileSync('mkdir', ['-p', path.dirname(misspelt)]);
      writeFileSync(misspelt, readFileSync(unit, 'utf8').replace('ProtectSystem=strict', 'ProtectSytem=strict'));
      assert.match(tool('systemd-analyze', ['verify', misspelt]).output, /Unknown key 'ProtectSytem'/);
      // Exposure 0 (locked down) … 10 (unprotected); this unit scores about 1.7.
      assertClean(tool('systemd-analyze', ['security', '--offline=yes', '--threshold=25', unit]), 'systemd-analyze security (exposure above 2.5)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
