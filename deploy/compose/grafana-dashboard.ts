// Writes the compose stack's provisioned copy of grafana/tetcore-analytics.json: the ${DS_…} inputs of
// the shareable export replaced by the uids of the provisioned data sources (file provisioning does not
// resolve inputs). `npm run deploy:grafana` after changing the dashboard; a test checks the copy is current.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SOURCE_PATH = fileURLToPath(new URL('../../grafana/tetcore-analytics.json', import.meta.url));
export const COPY_PATH = fileURLToPath(new URL('./grafana/dashboards/tetcore-analytics.json', import.meta.url));

/** Input of the exported dashboard → uid of the data source in grafana/provisioning/datasources/. */
export const DATASOURCE_UIDS: Record<string, string> = {
  DS_POSTGRES: 'tetcore-postgres',
  DS_PROMETHEUS: 'tetcore-prometheus',
};

interface Exported {
  __inputs?: Array<{ name: string; type: string; pluginId: string }>;
  [key: string]: unknown;
}

/** The provisioned dashboard (JSON text) for the exported one. */
export function provisionedDashboard(exportedText: string): string {
  const exported = JSON.parse(exportedText) as Exported;
  const inputs = exported.__inputs ?? [];
  for (const input of inputs) {
    if (input.type === 'datasource' && !(input.name in DATASOURCE_UIDS)) {
      throw new Error(`grafana/tetcore-analytics.json asks for data source input ${input.name}, which the compose stack does not provision`);
    }
  }
  // Text replacement keeps the file as it is otherwise (reviewable diffs); __inputs stays, unused.
  let text = exportedText;
  for (const [input, uid] of Object.entries(DATASOURCE_UIDS)) text = text.replaceAll(`\${${input}}`, uid);
  const left = /\$\{DS_[A-Z0-9_]+\}/.exec(text);
  if (left) throw new Error(`grafana/tetcore-analytics.json uses ${left[0]}, which is not one of its __inputs`);
  return text;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(COPY_PATH, provisionedDashboard(readFileSync(SOURCE_PATH, 'utf8')));
  process.stdout.write(`wrote ${COPY_PATH}\n`);
}
