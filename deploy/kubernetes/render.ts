// Renders deployment.template.yml into Kubernetes manifests from a small values file (one allow-list, many places).
//
//   npm run --silent deploy:render -- deploy/kubernetes/values.example.json > tetcore-analytics.yml
//
// Secrets never come from the values file: DATABASE_URL and API_TOKEN are read from the renderer's own
// environment and land only in the Secret (or the Secret is left out, and the operator creates it).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, parseAllDocuments, visit, type Document, type Node } from 'yaml';
import { SETTINGS, parseSettings } from '../../src/config/settings.js';

export const TEMPLATE_PATH = fileURLToPath(new URL('./deployment.template.yml', import.meta.url));

/** Settings that only the Secret may carry. */
export const SECRET_SETTINGS = ['DATABASE_URL', 'API_TOKEN'] as const;
/** Settings the values file may not set in `settings`, with where they come from instead. */
const DERIVED_SETTINGS: Record<string, string> = {
  INGEST_ALLOW: 'it is generated from "ingestAllow"',
  DATA_DIR: 'the image keeps its data in /data, the volume the manifests mount',
  PORT: 'the manifests expose container port 8080',
  HOST: 'the container must listen on every address of the pod',
};
/** Seconds granted beyond SHUTDOWN_TIMEOUT_S: closing node sockets, the HTTP server and the pools. */
const SHUTDOWN_MARGIN_S = 15;
const DEFAULT_RESOURCES = { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } };

export interface Values {
  /** Name of every object (and the app.kubernetes.io/instance label). */
  name: string;
  namespace: string;
  /** Image reference, e.g. registry.example.com/tetcore-analytics:0.2.0. */
  image: string;
  /** "postgres" (DATABASE_URL from the Secret, several replicas) or "embedded" (one pod, a volume). */
  database: 'postgres' | 'embedded';
  replicas?: number;
  /** CIDR blocks of the nodes allowed to stream (a bare address means that one address). */
  ingestAllow: string[];
  /** Who may reach the query API, /metrics and the dashboards besides the nodes. */
  queryAllow?: { cidrs?: string[]; namespaces?: string[] };
  /** Service type; LoadBalancer by default. */
  service?: 'LoadBalancer' | 'NodePort' | 'ClusterIP';
  /** Server settings (README's table), as strings; secrets and derived ones are refused. */
  settings?: Record<string, string>;
  /** Name of the Secret holding DATABASE_URL and API_TOKEN; default `name`. */
  secretName?: string;
  resources?: Record<string, unknown>;
  /** Embedded database only: the PersistentVolumeClaim. */
  storage?: { size?: string; storageClassName?: string };
}

export class ValuesError extends Error {}

const VALUE_KEYS = new Set(['$comment', 'name', 'namespace', 'image', 'database', 'replicas', 'ingestAllow', 'queryAllow', 'service', 'settings', 'secretName', 'resources', 'storage']);
/** RFC 1123 label: what Kubernetes accepts as a namespace, and as a name that is also a Service's. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** IPv6 text to its 16 bytes (:: and a dotted IPv4 tail handled); the text is known to be valid. */
function ipv6Bytes(text: string): number[] {
  let address = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    address = address.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((group) => {
    const value = parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}

/** `10.1.2.3` → `10.1.2.3/32`; refuses a block with host bits set, which means something else than it says. */
export function normalizeCidr(entry: string, field: string): string {
  const [address, prefixText] = entry.trim().split('/');
  const family = net.isIP(address);
  if (family === 0 || entry.split('/').length > 2) throw new ValuesError(`${field}: "${entry}" is not a CIDR block (such as 203.0.113.0/24 or 2001:db8::/48)`);
  const bits = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? '0') || prefix > bits) throw new ValuesError(`${field}: "${entry}" has an invalid prefix length`);
  const bytes = family === 4 ? address.split('.').map(Number) : ipv6Bytes(address);
  for (let bit = prefix; bit < bits; bit++) {
    if (bytes[bit >> 3] & (0x80 >> (bit & 7))) {
      throw new ValuesError(`${field}: "${entry}" has host bits set after /${prefix}; write the network address of the block`);
    }
  }
  return `${address}/${prefix}`;
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ValuesError(message);
}

function stringList(value: unknown, field: string): string[] {
  check(value === undefined || (Array.isArray(value) && value.every((e) => typeof e === 'string')), `${field} must be a list of strings`);
  return (value) ?? [];
}

/** Checks the values and computes every placeholder of the template. */
export function templateVariables(input: unknown, env: Record<string, string | undefined> = process.env): Record<string, unknown> {
  check(typeof input === 'object' && input !== null && !Array.isArray(input), 'the values file must hold a JSON object');
  const values = input as Values;
  for (const key of Object.keys(values)) check(VALUE_KEYS.has(key), `unknown key "${key}" in the values file (known: ${[...VALUE_KEYS].join(', ')})`);
  check(typeof values.name === 'string' && DNS_LABEL.test(values.name) && values.name.length <= 58, 'name must be a DNS label (lower case, digits, -) of at most 58 characters');
  check(typeof values.namespace === 'string' && DNS_LABEL.test(values.namespace), 'namespace must be a DNS label (lower case, digits, -)');
  check(typeof values.image === 'string' && values.image.length > 0 && !/\s/.test(values.image), 'image must be an image reference such as registry.example.com/tetcore-analytics:0.2.0');
  check(values.database === 'postgres' || values.database === 'embedded', 'database must be "postgres" or "embedded"');
  const embedded = values.database === 'embedded';
  const replicas = values.replicas ?? (embedded ? 1 : 2);
  check(Number.isInteger(replicas) && replicas >= 1, 'replicas must be a whole number ≥ 1');
  check(!embedded || replicas === 1, 'database "embedded" keeps its data in one pod: replicas must be 1 (use "postgres" for more)');
  const service = values.service ?? 'LoadBalancer';
  check(['LoadBalancer', 'NodePort', 'ClusterIP'].includes(service), 'service must be LoadBalancer, NodePort or ClusterIP');

  const ingestAllow = stringList(values.ingestAllow, 'ingestAllow').map((e) => normalizeCidr(e, 'ingestAllow'));
  check(ingestAllow.length > 0, 'ingestAllow must list the nodes\' CIDR blocks (["0.0.0.0/0", "::/0"] admits every address, deliberately)');
  const queryAllow = values.queryAllow ?? {};
  check(typeof queryAllow === 'object' && !Array.isArray(queryAllow), 'queryAllow must be an object with "cidrs" and/or "namespaces"');
  for (const key of Object.keys(queryAllow)) check(key === 'cidrs' || key === 'namespaces', `unknown key "queryAllow.${key}" (known: cidrs, namespaces)`);
  const queryCidrs = stringList(queryAllow.cidrs, 'queryAllow.cidrs').map((e) => normalizeCidr(e, 'queryAllow.cidrs'));
  const queryNamespaces = stringList(queryAllow.namespaces, 'queryAllow.namespaces');
  for (const ns of queryNamespaces) check(DNS_LABEL.test(ns), `queryAllow.namespaces: "${ns}" is not a namespace name`);

  const settings = values.settings ?? {};
  check(typeof settings === 'object' && !Array.isArray(settings), 'settings must be an object of environment variable names to strings');
  const known = new Set<string>(SETTINGS.map((s) => s.env));
  for (const [key, value] of Object.entries(settings)) {
    if ((SECRET_SETTINGS as readonly string[]).includes(key)) {
      throw new ValuesError(`settings.${key} is a secret: it goes to the Secret, never to the ConfigMap. Set ${key} in the environment of the renderer, or create the Secret yourself`);
    }
    check(!(key in DERIVED_SETTINGS), `settings.${key} cannot be set: ${DERIVED_SETTINGS[key]}`);
    check(known.has(key), `settings.${key} is not a setting of the server (README, Settings)`);
    check(typeof value === 'string', `settings.${key} must be a string (environment variables are text): "${value}"`);
  }
  check(settings.METRICS_PUBLIC !== 'false', 'settings.METRICS_PUBLIC=false would put /health and /ready behind API_TOKEN, where the probes cannot reach them');
  const configData: Record<string, string> = { ...settings, INGEST_ALLOW: ingestAllow.join(',') };

  const secretData: Record<string, string> = {};
  for (const key of SECRET_SETTINGS) {
    const value = env[key];
    if (value !== undefined && value !== '') secretData[key] = value;
  }
  check(!(embedded && secretData.DATABASE_URL), 'DATABASE_URL is set in the environment but database is "embedded"; unset it or use "postgres"');
  // The server's own parser: a value it would refuse at start-up is refused now, naming the variable.
  let shutdownTimeoutS: number;
  try {
    shutdownTimeoutS = parseSettings({ ...configData, ...secretData }).shutdownTimeoutS;
  } catch (error) {
    throw new ValuesError(`settings: ${(error as Error).message}`);
  }

  const secretName = values.secretName ?? values.name;
  check(DNS_LABEL.test(secretName), 'secretName must be a DNS label');
  const secretRef = (key: string, optional: boolean) => ({ name: key, valueFrom: { secretKeyRef: { name: secretName, key, optional } } });
  const secretEnv = embedded ? [secretRef('API_TOKEN', true)] : [secretRef('DATABASE_URL', false), secretRef('API_TOKEN', true)];

  const selector = { 'app.kubernetes.io/name': 'tetcore-analytics', 'app.kubernetes.io/instance': values.name };
  const labels = { ...selector, 'app.kubernetes.io/component': 'server' };
  const port = { protocol: 'TCP', port: 8080 };
  const ipBlocks = (cidrs: string[]) => cidrs.map((cidr) => ({ ipBlock: { cidr } }));
  const ingressRules: unknown[] = [{ from: ipBlocks(ingestAllow), ports: [port] }];
  const queryPeers = [...ipBlocks(queryCidrs), ...queryNamespaces.map((ns) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } }))];
  if (queryPeers.length > 0) ingressRules.push({ from: queryPeers, ports: [port] });

  const storage = values.storage ?? {};
  check(!storage.storageClassName || DNS_LABEL.test(storage.storageClassName), 'storage.storageClassName must be a storage class name');
  const external = service !== 'ClusterIP';
  return {
    name: values.name,
    namespace: values.namespace,
    image: values.image,
    labels,
    selector,
    settings: configData,
    configChecksum: createHash('sha256').update(JSON.stringify(configData)).digest('hex').slice(0, 16),
    renderSecret: Object.keys(secretData).length > 0,
    secretName,
    secretData,
    secretEnv,
    embedded,
    replicas,
    strategy: embedded ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
    terminationGracePeriodSeconds: shutdownTimeoutS + SHUTDOWN_MARGIN_S,
    resources: values.resources ?? DEFAULT_RESOURCES,
    dataVolume: embedded ? { name: 'data', persistentVolumeClaim: { claimName: `${values.name}-data` } } : { name: 'data', emptyDir: { sizeLimit: '1Gi' } },
    storageSize: storage.size ?? '20Gi',
    storageClassName: storage.storageClassName,
    serviceType: service,
    externalTrafficPolicy: external ? 'Local' : undefined,
    loadBalancerSourceRanges: service === 'LoadBalancer' ? [...ingestAllow, ...queryCidrs] : undefined,
    ingressRules,
  };
}

const PLACEHOLDER = /\$\{([A-Za-z][A-Za-z0-9]*)\}/g;
const WHOLE_PLACEHOLDER = /^\$\{([A-Za-z][A-Za-z0-9]*)\}$/;
const DROP = Symbol('drop');
/** Repeated objects written out each time, not as YAML aliases. */
const NODE_OPTIONS = { aliasDuplicateObjects: false };

function lookup(variables: Record<string, unknown>, name: string): unknown {
  if (!(name in variables)) throw new Error(`deployment.template.yml uses \${${name}}, which the renderer does not define`);
  return variables[name];
}

/**
 * Fills the placeholders of one template document: a scalar that is exactly `${x}` becomes the value
 * of x (a map, list, number…; an undefined one removes its key; a list inside a list is spliced), a
 * placeholder inside a longer string is replaced by its text.
 */
function fill(doc: Document, variables: Record<string, unknown>): void {
  visit(doc, {
    Pair(_key, pair) {
      if (isScalar(pair.value) && typeof pair.value.value === 'string') {
        const whole = WHOLE_PLACEHOLDER.exec(pair.value.value);
        if (whole && lookup(variables, whole[1]) === undefined) return visit.REMOVE;
      }
      return undefined;
    },
    Seq(_key, seq) {
      const items: unknown[] = [];
      for (const item of seq.items) {
        const whole = isScalar(item) && typeof item.value === 'string' ? WHOLE_PLACEHOLDER.exec(item.value) : null;
        const value = whole ? lookup(variables, whole[1]) : DROP;
        if (Array.isArray(value)) items.push(...value.map((v) => doc.createNode(v, NODE_OPTIONS)));
        else items.push(item);
      }
      seq.items = items;
    },
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return undefined;
      const whole = WHOLE_PLACEHOLDER.exec(node.value);
      if (whole) {
        const created = doc.createNode(lookup(variables, whole[1]), NODE_OPTIONS) as Node;
        created.comment = node.comment;
        return created;
      }
      node.value = node.value.replace(PLACEHOLDER, (_, name: string) => String(lookup(variables, name)));
      return undefined;
    },
  });
}

/** The rendered manifests, as one YAML stream (comments of the template kept). */
export function render(values: unknown, env: Record<string, string | undefined> = process.env, template = readFileSync(TEMPLATE_PATH, 'utf8')): string {
  const variables = templateVariables(values, env);
  const documents = parseAllDocuments(template);
  const out: string[] = [];
  // The template's header speaks of the template; the rendered stream has its own.
  if (documents[0]) documents[0].commentBefore = null;
  for (const doc of documents) {
    if (!('errors' in doc) || doc.errors.length > 0) throw new Error(`deployment.template.yml: ${'errors' in doc ? doc.errors[0]?.message : 'not YAML'}`);
    if (!isMap(doc.contents)) continue; // the leading comment-only document
    const condition = doc.contents.get('x-render-when');
    if (condition !== undefined) {
      if (!lookup(variables, String(condition))) continue;
      doc.contents.delete('x-render-when');
    }
    fill(doc, variables);
    out.push(doc.toString({ lineWidth: 0, flowCollectionPadding: false }).replace(/^---\n/, ''));
  }
  return `# Rendered by deploy/kubernetes/render.ts from deployment.template.yml; edit the values file, not this.\n${out.map((d) => `---\n${d}`).join('')}`;
}

/** Every document of a rendered stream as plain objects (for checks and tests). */
export function parseManifests(text: string): Array<Record<string, unknown>> {
  return parseAllDocuments(text).flatMap((doc) => {
    if (!('errors' in doc) || doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${'errors' in doc ? doc.errors[0]?.message : ''}`);
    const value = doc.toJS() as Record<string, unknown> | null;
    return value === null ? [] : [value];
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [valuesPath] = process.argv.slice(2);
  if (!valuesPath) {
    process.stderr.write('usage: npm run --silent deploy:render -- VALUES.json > manifests.yml\n  (DATABASE_URL and API_TOKEN from the environment go to the Secret)\n');
    process.exit(2);
  }
  try {
    const values = JSON.parse(readFileSync(valuesPath, 'utf8')) as unknown;
    const output = render(values);
    process.stdout.write(output);
    if (!/\nkind: Secret\n/.test(output)) {
      process.stderr.write(`deploy:render: no Secret rendered (DATABASE_URL and API_TOKEN unset here); the Deployment reads it from the Secret "${(values as Values).secretName ?? (values as Values).name}", create it before applying\n`);
    }
  } catch (error) {
    process.stderr.write(`deploy:render: ${valuesPath}: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
