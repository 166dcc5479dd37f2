// Item 12 of the hardening issue: files of ASSETS_PATH that are dot-files, inside dot-directories, or
// symlinks (to files or folders outside it) are answered 404, while the dashboards still serve. Over
// HTTP against a copy of static/ with such files added. The database plays no part: embedded only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SECRET = 'SECRET-THAT-MUST-NOT-BE-SERVED';

describe('static files: no dot-files, no symlinks, #12', () => {
  let server: TestServer;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tetcore-assets-'));
    const assets = path.join(dir, 'assets');
    await cp(path.resolve('static'), assets, { recursive: true });
    await writeFile(path.join(assets, '.env'), `API_TOKEN=${SECRET}\n`);
    await mkdir(path.join(assets, '.git'));
    await writeFile(path.join(assets, '.git', 'config'), SECRET);
    await writeFile(path.join(assets, '.git', 'index.html'), SECRET);
    await writeFile(path.join(assets, 'profiling', '.secret'), SECRET);
    const outside = path.join(dir, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.txt'), SECRET);
    await writeFile(path.join(outside, 'index.html'), SECRET);
    await symlink('/etc/passwd', path.join(assets, 'passwd'));
    await symlink(path.join(outside, 'secret.txt'), path.join(assets, 'notes.txt'));
    await symlink(outside, path.join(assets, 'shared'));
    await symlink(path.join(outside, 'secret.txt'), path.join(assets, 'common', 'extra.js'));
    // ASSETS_PATH itself may be a link (a deployment switching versions): that is not refused.
    await symlink(assets, path.join(dir, 'current'));
    server = await startTestServer(BACKENDS.find((b) => b.name === 'embedded')!, { ASSETS_PATH: path.join(dir, 'current') });
  });

  after(async () => {
    await server?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const url of [
    '/dashboard/.env',
    '/dashboard/%2eenv',
    '/dashboard/.git/config',
    '/dashboard/.git/',
    '/dashboard/.git',
    '/dashboard/profiling/.secret',
    '/dashboard/passwd',
    '/dashboard/notes.txt',
    '/dashboard/shared/secret.txt',
    '/dashboard/shared/',
    '/dashboard/shared',
    '/dashboard/common/extra.js',
  ]) {
    it(`#12 ${url} is 404`, async () => {
      const response = await fetch(server.httpUrl(url), { redirect: 'manual' });
      const text = await response.text();
      assert.equal(response.status, 404, `${url}: ${response.status}`);
      assert.ok(!text.includes(SECRET) && !text.includes('root:'), 'nothing of the file in the answer');
    });
  }

  it('#12 the dashboards still serve', async () => {
    for (const url of ['/dashboard/common/api.js', '/dashboard/profiling/', '/dashboard/profiling', '/dashboard/', '/dashboard', '/dashboard/vendor/uplot/uPlot.min.css', '/dashboard/vendor/uplot/uPlot.iife.min.js']) {
      const response = await fetch(server.httpUrl(url));
      assert.equal(response.status, 200, url);
      assert.ok((await response.text()).length > 0, url);
    }
    const overview = await fetch(server.httpUrl('/'), { headers: { accept: 'text/html' } });
    assert.equal(overview.status, 200);
    assert.match(await overview.text(), /<html/i);
  });
});
