// deploy/kubernetes: the rendered manifests pass the Kubernetes API schemas and field names, the node
// allow-list lands in INGEST_ALLOW, the NetworkPolicy and the load balancer alike, and a secret never
// lands in a ConfigMap.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseManifests, render, ValuesError, type Values } from '../../deploy/kubernetes/render.js';
import { validateManifests } from '../../deploy/kubernetes/validate.js';

const EXAMPLE: Values = JSON.parse(readFileSync(new URL('../../deploy/kubernetes/values.example.json', import.meta.url), 'utf8'));
const NO_SECRETS = {};
const DATABASE_URL = 'postgres://tetcore:s3cr3t-password@db.internal:5432/tetcore_analytics';
const API_TOKEN = 'token-0123456789abcdef';

type Manifest = Record<string, any>;

function manifests(values: unknown, env: Record<string, string> = NO_SECRETS): Manifest[] {
  return parseManifests(render(values, env));
}
const byKind = (list: Manifest[], kind: string) => list.filter((m) => m.kind === kind);
const one = (list: Manifest[], kind: string) => {
  const found = byKind(list, kind);
  assert.equal(found.length, 1, `one ${kind} expected, got ${found.length}`);
  return found[0];
};
const container = (list: Manifest[]) => one(list, 'Deployment').spec.template.spec.containers[0];

describe('Kubernetes manifests', () => {
  it('the example values render manifests that pass the Kubernetes schemas and field names', () => {
    const text = render(EXAMPLE, { DATABASE_URL, API_TOKEN });
    assert.deepEqual(validateManifests(text), []);
    assert.deepEqual(parseManifests(text).map((m) => m.kind).sort(), ['ConfigMap', 'Deployment', 'NetworkPolicy', 'Secret', 'Service']);
  });

  it('the validation fails on a wrong type and on an unknown field', () => {
    const text = render(EXAMPLE, NO_SECRETS);
    const wrongType = validateManifests(text.replace(/replicas: 2/, 'replicas: two'));
    assert.match(wrongType.join('\n'), /Deployment tetcore-analytics: \/spec\/replicas must be integer/);
    const typo = validateManifests(text.replace('readinessProbe:', 'readinesProbe:'));
    assert.match(typo.join('\n'), /readinesProbe/);
  });

  it('the allow-list is the same in INGEST_ALLOW, the NetworkPolicy and loadBalancerSourceRanges', () => {
    const list = manifests(EXAMPLE);
    const expected = ['203.0.113.0/24', '198.51.100.7/32', '2001:db8:1::/48']; // the bare address becomes /32
    assert.deepEqual(one(list, 'ConfigMap').data.INGEST_ALLOW.split(','), expected);
    const rules = one(list, 'NetworkPolicy').spec.ingress;
    assert.deepEqual(rules[0].from.map((peer: Manifest) => peer.ipBlock.cidr), expected);
    assert.deepEqual(rules[0].ports, [{ protocol: 'TCP', port: 8080 }]);
    // The query clients get their own rule; the load balancer admits both.
    assert.deepEqual(rules[1].from, [{ ipBlock: { cidr: '192.0.2.0/28' } }, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    const service = one(list, 'Service');
    assert.deepEqual(service.spec.loadBalancerSourceRanges, [...expected, '192.0.2.0/28']);
    assert.equal(service.spec.externalTrafficPolicy, 'Local', 'the source address must reach the pod for INGEST_ALLOW');
  });

  it('without query clients the NetworkPolicy has only the nodes\' rule (an empty rule would admit everyone)', () => {
    const list = manifests({ ...EXAMPLE, queryAllow: undefined });
    const rules = one(list, 'NetworkPolicy').spec.ingress;
    assert.equal(rules.length, 1);
    assert.ok(rules.every((rule: Manifest) => Array.isArray(rule.from) && rule.from.length > 0));
  });

  it('secrets from the environment go to the Secret only, never to the ConfigMap', () => {
    const list = manifests(EXAMPLE, { DATABASE_URL, API_TOKEN });
    const secret = one(list, 'Secret');
    assert.deepEqual(secret.stringData, { DATABASE_URL, API_TOKEN });
    for (const configMap of byKind(list, 'ConfigMap')) {
      const text = JSON.stringify(configMap);
      assert.doesNotMatch(text, /DATABASE_URL|API_TOKEN|s3cr3t|token-0123/);
    }
    const env = container(list).env;
    assert.deepEqual(env.find((e: Manifest) => e.name === 'DATABASE_URL').valueFrom.secretKeyRef, { name: 'tetcore-analytics', key: 'DATABASE_URL', optional: false });
    assert.deepEqual(env.find((e: Manifest) => e.name === 'API_TOKEN').valueFrom.secretKeyRef, { name: 'tetcore-analytics', key: 'API_TOKEN', optional: true });
    assert.ok(env.every((e: Manifest) => e.value === undefined), 'no secret value inline in the Deployment');
  });

  it('without secrets in the environment no Secret is rendered, and the Deployment still reads the one the operator made', () => {
    const list = manifests(EXAMPLE);
    assert.equal(byKind(list, 'Secret').length, 0);
    assert.equal(container(list).env[0].valueFrom.secretKeyRef.name, 'tetcore-analytics');
  });

  it('a secret, a derived or an unknown setting in the values is refused with the reason', () => {
    for (const key of ['DATABASE_URL', 'API_TOKEN']) {
      assert.throws(() => render({ ...EXAMPLE, settings: { [key]: DATABASE_URL } }, NO_SECRETS), (e: Error) => e instanceof ValuesError && e.message.includes(`settings.${key} is a secret`));
    }
    assert.throws(() => render({ ...EXAMPLE, settings: { INGEST_ALLOW: '10.0.0.0/8' } }, NO_SECRETS), /settings.INGEST_ALLOW cannot be set: it is generated from "ingestAllow"/);
    assert.throws(() => render({ ...EXAMPLE, settings: { LOG_EXPIRE_H: '1' } }, NO_SECRETS), /settings.LOG_EXPIRE_H is not a setting of the server/);
    assert.throws(() => render({ ...EXAMPLE, settings: { LOG_EXPIRY_H: 'a week' } }, NO_SECRETS), /LOG_EXPIRY_H/);
    assert.throws(() => render({ ...EXAMPLE, settings: { METRICS_PUBLIC: 'false' } }, NO_SECRETS), /probes/);
    assert.throws(() => render({ ...EXAMPLE, replicaCount: 3 }, NO_SECRETS), /unknown key "replicaCount"/);
  });

  it('a bad allow-list is refused: empty, not a CIDR block, host bits set', () => {
    assert.throws(() => render({ ...EXAMPLE, ingestAllow: [] }, NO_SECRETS), /ingestAllow must list/);
    assert.throws(() => render({ ...EXAMPLE, ingestAllow: ['nodes.example.com'] }, NO_SECRETS), /"nodes.example.com" is not a CIDR block/);
    assert.throws(() => render({ ...EXAMPLE, ingestAllow: ['203.0.113.7/24'] }, NO_SECRETS), /host bits set after \/24/);
    assert.throws(() => render({ ...EXAMPLE, ingestAllow: ['2001:db8::1/64'] }, NO_SECRETS), /host bits set after \/64/);
    assert.throws(() => render({ ...EXAMPLE, queryAllow: { cidrs: ['10.0.0.0/33'] } }, NO_SECRETS), /invalid prefix length/);
    assert.doesNotThrow(() => render({ ...EXAMPLE, ingestAllow: ['0.0.0.0/0', '::/0', '::ffff:192.0.2.0/120'] }, NO_SECRETS));
  });

  it('the probes, the grace period beyond SHUTDOWN_TIMEOUT_S and the non-root user are where Kubernetes reads them', () => {
    const list = manifests(EXAMPLE);
    const pod = one(list, 'Deployment').spec.template.spec;
    assert.equal(container(list).readinessProbe.httpGet.path, '/ready');
    assert.equal(container(list).livenessProbe.httpGet.path, '/health');
    assert.ok(pod.terminationGracePeriodSeconds > 30, 'default SHUTDOWN_TIMEOUT_S is 30');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 10001);
    assert.ok(container(list).resources.limits.memory);
    const longer = one(manifests({ ...EXAMPLE, settings: { SHUTDOWN_TIMEOUT_S: '120' } }), 'Deployment');
    assert.ok(longer.spec.template.spec.terminationGracePeriodSeconds > 120);
  });

  it('embedded database: one pod, a volume claim, Recreate; more replicas are refused', () => {
    const values = { ...EXAMPLE, database: 'embedded', replicas: 1, storage: { size: '5Gi' } };
    const text = render(values, { API_TOKEN });
    assert.deepEqual(validateManifests(text), []);
    const list = parseManifests(text);
    const deployment = one(list, 'Deployment');
    assert.equal(deployment.spec.replicas, 1);
    assert.deepEqual(deployment.spec.strategy, { type: 'Recreate' });
    const claim = one(list, 'PersistentVolumeClaim');
    assert.equal(claim.spec.resources.requests.storage, '5Gi');
    assert.deepEqual(deployment.spec.template.spec.volumes.find((v: Manifest) => v.name === 'data').persistentVolumeClaim, { claimName: claim.metadata.name });
    assert.ok(!container(list).env.some((e: Manifest) => e.name === 'DATABASE_URL'));
    assert.throws(() => render({ ...values, replicas: 2 }, NO_SECRETS), /replicas must be 1/);
    assert.throws(() => render(values, { DATABASE_URL }), /database is "embedded"/);
  });

  it('a ClusterIP service has no load-balancer fields and still validates', () => {
    const text = render({ ...EXAMPLE, service: 'ClusterIP' }, NO_SECRETS);
    assert.deepEqual(validateManifests(text), []);
    const service = one(parseManifests(text), 'Service');
    assert.equal(service.spec.type, 'ClusterIP');
    assert.equal(service.spec.loadBalancerSourceRanges, undefined);
    assert.equal(service.spec.externalTrafficPolicy, undefined);
  });

  it('the ConfigMap carries the settings of the values, and a changed one changes the pods\' checksum', () => {
    const a = manifests(EXAMPLE);
    assert.equal(one(a, 'ConfigMap').data.LOG_EXPIRY_H, '720');
    const b = manifests({ ...EXAMPLE, settings: { ...EXAMPLE.settings, LOG_EXPIRY_H: '168' } });
    const checksum = (list: Manifest[]) => one(list, 'Deployment').spec.template.metadata.annotations['checksum/config'];
    assert.notEqual(checksum(a), checksum(b));
  });
});
