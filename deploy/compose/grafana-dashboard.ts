// Writes the compose stack's provisioned copy of grafana/tetcore-analytics.json. The dashboard picks its
// data sources through datasource variables (ds_prometheus, ds_postgres), so it works provisioned from a
// file as it is; the copy only preselects the stack's provisioned data sources in those variables.
// `npm run deploy:grafana` after changing the dashboard; a test checks the copy is current.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SOURCE_PATH = fileURLToPath(new URL('../../grafana/tetcore-analytics.json', import.meta.url));
export const COPY_PATH = fileURLToPath(new URL('./grafana/dashboards/tetcore-analytics.json', import.meta.url));

/** Plugin type of a data source → name and uid of the one in grafana/provisioning/datasources/. */
export const PROVISIONED_DATASOURCES: Record<string, { name: string; uid: string }> = {
  'grafana-postgresql-datasource': { name: 'PostgreSQL', uid: 'tetcore-postgres' },
  prometheus: { name: 'Prometheus', uid: 'tetcore-prometheus' },
};

interface Variable {
  name: string;
  type: string;
  query?: unknown;
  current?: unknown;
}
interface Dashboard {
  templating: { list: Variable[] };
  [key: string]: unknown;
}

/** The provisioned dashboard (JSON text) for the one in grafana/. */
export function provisionedDashboard(sourceText: string): string {
  const placeholder = /\$\{DS_[A-Z0-9_]+\}/.exec(sourceText);
  if (placeholder) throw new Error(`grafana/tetcore-analytics.json uses ${placeholder[0]}: file provisioning resolves no import inputs; use the datasource variables`);
  const dashboard = JSON.parse(sourceText) as Dashboard;
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'datasource') continue;
    const source = PROVISIONED_DATASOURCES[String(variable.query)];
    if (source === undefined) throw new Error(`data source variable ${variable.name} asks for a ${String(variable.query)} data source, which the compose stack does not provision`);
    variable.current = { selected: true, text: source.name, value: source.uid };
  }
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(COPY_PATH, provisionedDashboard(readFileSync(SOURCE_PATH, 'utf8')));
  process.stdout.write(`wrote ${COPY_PATH}\n`);
}
