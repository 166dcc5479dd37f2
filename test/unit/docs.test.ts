// The repository stands on its own: every citation of docs/*.md#section in code, tests and docs names a
// heading that exists, and nothing refers to files outside the repository (the folder beside it, or an
// environment variable pointing there) or
// to the section and weakness numbers of documents that are not in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/process.js';

const SCANNED = ['src', 'test', 'bench', 'scripts', 'static', 'docs', 'grafana', 'README.md', 'package.json', '.ci'];
const SKIPPED = new Set(['node_modules', 'results', 'fixtures', 'data']);

function files(relative: string): string[] {
  const full = path.join(ROOT, relative);
  if (statSync(full).isFile()) return [relative];
  return readdirSync(full).flatMap((name) => (SKIPPED.has(name) ? [] : files(path.join(relative, name))));
}

/** GitHub's anchor of a heading: lower case, punctuation other than - and _ removed, spaces to -. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

function anchors(doc: string): Set<string> {
  const text = readFileSync(path.join(ROOT, 'docs', doc), 'utf8');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));
}

const sources = SCANNED.flatMap(files).filter((file) => /\.(ts|js|md|json|html|css|sql|sh)$|\/run$/.test(file) && file !== 'test/unit/docs.test.ts');

test('every docs/<doc>.md#<section> citation names an existing heading', () => {
  const known = new Map(readdirSync(path.join(ROOT, 'docs')).map((doc) => [doc, anchors(doc)]));
  const broken: string[] = [];
  let citations = 0;
  for (const file of sources) {
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    const inDocs = file.startsWith('docs/');
    const pattern = inDocs ? /(?:docs\/|\()([\w-]+\.md)?#([\w-]+)/g : /docs\/([\w-]+\.md)#([\w-]+)/g;
    for (const match of text.matchAll(pattern)) {
      const doc = match[1] ?? path.basename(file);
      citations++;
      if (!known.get(doc)?.has(match[2])) broken.push(`${file}: ${doc}#${match[2]}`);
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(citations > 40, `only ${citations} citations found: is the pattern still right?`);
});

test('nothing refers to files beside the repository or to section numbers of documents outside it', () => {
  // Built from parts so that this file does not match its own pattern (nor a grep for it).
  const beside = ['\\.\\./', 'shared'].join('');
  const outside = new RegExp(`${beside}|shared/fixtures|${'FIXTURES'}_DIR|behaviour\\.md|wire-protocol §|§\\d|\\(W\\d{1,2}\\)|\\bW\\d{1,2}:`);
  const offenders = sources.filter((file) => outside.test(readFileSync(path.join(ROOT, file), 'utf8')));
  assert.deepEqual(offenders, []);
});
