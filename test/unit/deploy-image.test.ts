// deploy/Containerfile against the repository, without building it (test:deploy builds and runs it): the
// version label follows package.json, skipping install scripts stays harmless, and the build context
// lets through everything the image copies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const containerfile = readFileSync(path.join(ROOT, 'deploy/Containerfile'), 'utf8');
const ignoreRules = readFileSync(path.join(ROOT, 'deploy/Containerfile.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));

/** Docker's rule: the last matching pattern wins; `*` matches everything at the top, `!x/` admits x. */
function admitted(file: string): boolean {
  let result = true;
  for (const rule of ignoreRules) {
    const negated = rule.startsWith('!');
    const pattern = (negated ? rule.slice(1) : rule).replace(/\/$/, '');
    const matches = pattern === '*' || file === pattern || file.startsWith(`${pattern}/`);
    if (matches) result = negated;
  }
  return result;
}

describe('Containerfile', () => {
  it('the default VERSION label is package.json\'s version', () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.match(containerfile, new RegExp(`^ARG VERSION=${version.replaceAll('.', '\\.')}$`, 'm'), `set ARG VERSION=${version} in deploy/Containerfile`);
  });

  it('npm ci --ignore-scripts is safe: no production dependency has an install script', () => {
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages).filter(([name, entry]) => name !== '' && !entry.dev && entry.hasInstallScript).map(([name]) => name);
    assert.deepEqual(withScripts, [], 'these need their install script in the image: drop --ignore-scripts from deploy/Containerfile (and keep "prepare" from running)');
    assert.match(containerfile, /npm ci --omit=dev --ignore-scripts/);
  });

  it('the build context admits every path the image copies from it, and nothing else is needed', () => {
    const copies = [...containerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => m[1].trim().split(/\s+/).slice(0, -1)).flat();
    assert.ok(copies.length >= 5);
    for (const source of copies) {
      assert.ok(existsSync(path.join(ROOT, source)), `COPY ${source}: no such path`);
      assert.ok(admitted(source), `COPY ${source}: left out by deploy/Containerfile.dockerignore`);
    }
    for (const unwanted of ['node_modules', 'dist', 'data', 'test', '.env', 'bench']) assert.ok(!admitted(unwanted), `${unwanted} would be sent as build context`);
  });

  it('runs node itself as a non-root user, in exec form', () => {
    assert.match(containerfile, /^USER 10001:10001$/m);
    assert.match(containerfile, /^CMD \["node", "dist\/main\.js"\]$/m);
    assert.doesNotMatch(containerfile, /^ENTRYPOINT/m);
  });
});
