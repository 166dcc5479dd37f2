// deploy/prometheus/alerts.yml with Debian's promtool (package prometheus; .ci/run installs it): the rules
// load (`promtool check rules`), their unit tests in alerts.test.yml pass (`promtool test rules`), and
// every alert has a unit test where it fires and one where it does not.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));

function promtool(...args: string[]): string {
  const result = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new Error(`promtool did not run (${result.error.message}): apt-get install -y prometheus (.ci/run installs it)`);
  const output = `${result.stdout}${result.stderr}`.trim();
  assert.equal(result.status, 0, `promtool ${args.join(' ')} failed:\n${output}`);
  return output;
}

interface RuleFile {
  groups: Array<{ rules: Array<{ alert?: string; expr: string }> }>;
}
interface RuleTests {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

describe('alert rules (promtool)', () => {
  const rules = parse(readFileSync(`${DIR}alerts.yml`, 'utf8')) as RuleFile;
  const tests = parse(readFileSync(`${DIR}alerts.test.yml`, 'utf8')) as RuleTests;
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((a): a is string => a !== undefined);

  it('promtool check rules: the rules load', () => {
    assert.match(promtool('check', 'rules', 'alerts.yml'), new RegExp(`SUCCESS: ${alerts.length} rules found`));
  });

  it('promtool test rules: every unit test in alerts.test.yml passes', () => {
    assert.deepEqual(tests.rule_files, ['alerts.yml']);
    assert.match(promtool('test', 'rules', 'alerts.test.yml'), /SUCCESS/);
  });

  it('every alert is tested firing and not firing; the operators asked for these', () => {
    for (const wanted of [
      'TetcoreChainFinalityStalled',
      'TetcoreChainBestBlockStalled',
      'TetcoreChainNodesDropped',
      'TetcoreChainPropagationSlow',
      'TetcoreMessagesDropped',
      'TetcoreIngestPaused',
      'TetcoreDatabaseUnreachable',
    ]) {
      assert.ok(alerts.includes(wanted), `${wanted} is missing from alerts.yml`);
    }
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      assert.ok(mine.some((c) => c.exp_alerts.length > 0), `${alert}: no unit test where it fires`);
      assert.ok(mine.some((c) => c.exp_alerts.length === 0), `${alert}: no unit test where it stays quiet`);
    }
  });
});
