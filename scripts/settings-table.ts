// `npm run docs:settings`: rewrites the settings table of README.md from src/config/settings.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { SETTINGS } from '../src/config/settings.js';

const START = '<!-- settings:start -->';
const END = '<!-- settings:end -->';
const readme = readFileSync('README.md', 'utf8');
const table = ['| variable | default | meaning |', '|---|---|---|', ...SETTINGS.map((s) => `| \`${s.env}\` | ${s.defaultText} | ${s.description} |`)].join('\n');
const [before, rest] = readme.split(START);
const after = rest.split(END)[1];
writeFileSync('README.md', `${before}${START}\n${table}\n${END}${after}`);
