// Renders every kustomization with `kubectl kustomize` and validates each object
// against the Kubernetes OpenAPI schemas (kubernetes-models) and the CRD schemas
// of external-secrets and prometheus-operator, then checks the properties the
// deployment relies on (probes, security, wiring between objects).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { findTool, tierCanRun } from '../../tests/support/tools.mjs';
import { readSecretTable, rowsOf } from '../../infra/test/security-table.js';

const here = import.meta.dirname;
const canRender = tierCanRun('kubernetes');
const kubectl = findTool('kubectl') ?? 'kubectl';
const OVERLAYS = ['dev', 'staging', 'prod'] as const;

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
};

/** apiVersion → the package that holds its generated models and validators. */
function modulePath(apiVersion: string, kind: string): string {
  if (apiVersion.startsWith('external-secrets.io/')) return `@kubernetes-models/external-secrets/${apiVersion}/${kind}`;
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  if (apiVersion.includes('.') && !apiVersion.includes('.k8s.io/'))
    throw new Error(`no schema package for ${apiVersion} ${kind}: add one before using this kind`);
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** Throws with the schema's own messages when `object` does not conform. */
async function validateObject(object: Obj): Promise<void> {
  const module = (await import(modulePath(object.apiVersion, object.kind))) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[object.kind];
  if (!Model) throw new Error(`no model for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

function render(dir: string): Obj[] {
  let output: string;
  try {
    output = execFileSync(kubectl, ['kustomize', path.join(here, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    throw new Error(`kubectl kustomize ${dir} failed: ${e.stderr ?? e.message}`, { cause: error });
  }
  return parseAllDocuments(output).map((document) => {
    expect(document.errors).toEqual([]);
    return document.toJS() as Obj;
  });
}

const find = (objects: Obj[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} missing`);
  return found;
};

describe.skipIf(!canRender)('schema validation', () => {
  it('rejects an invalid object (the check has teeth)', async () => {
    const base = render('base');
    const web = structuredClone(find(base, 'Deployment', 'epu-web'));
    web.spec.replicas = 'three';
    await expect(validateObject(web)).rejects.toThrow(/replicas/);
    const monitor = structuredClone(find(base, 'ServiceMonitor', 'epu'));
    monitor.spec.endpoints = 'metrics';
    await expect(validateObject(monitor)).rejects.toThrow(/endpoints/);
    const secret = structuredClone(find(base, 'ExternalSecret', 'epu-secrets'));
    delete secret.spec.data[0].remoteRef;
    await expect(validateObject(secret)).rejects.toThrow(/remoteRef/);
  });

  it.each(['base', 'cluster', ...OVERLAYS.map((o) => `overlays/${o}`)])(
    '%s renders and every object conforms to its schema',
    async (dir) => {
      const objects = render(dir);
      expect(objects.length).toBeGreaterThan(0);
      for (const object of objects) {
        await expect(validateObject(object), `${object.kind}/${object.metadata.name}`).resolves.toBeUndefined();
      }
    },
  );
});

describe.skipIf(!canRender).each(OVERLAYS)('overlay %s', (overlay) => {
  let objects: Obj[];
  beforeAll(() => {
    objects = render(`overlays/${overlay}`);
  });

  const deployments = () => objects.filter((o) => o.kind === 'Deployment');
  const podSpecs = () =>
    [...deployments(), find(objects, 'Job', 'epu-migrate')].map((o) => [o.metadata.name, o.spec.template.spec] as const);

  it('puts every namespaced object in the overlay namespace', () => {
    const namespace = find(objects, 'Namespace', `epu-${overlay}`).metadata.name;
    for (const object of objects.filter((o) => o.kind !== 'Namespace'))
      expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe(namespace);
  });

  it('runs one image for every process, picked by command', () => {
    const commands = Object.fromEntries(podSpecs().map(([name, spec]) => [name, spec.containers[0].args]));
    expect(commands).toEqual({ 'epu-web': ['web'], 'epu-worker': ['worker'], 'epu-functions': ['functions'], 'epu-migrate': ['migrate'] });
    const images = new Set(podSpecs().map(([, spec]) => spec.containers[0].image as string));
    expect(images.size).toBe(1);
    expect([...images][0]).toMatch(/^ghcr\.io\/epu\/epu:[\w.-]+$/);
  });

  it('runs every pod non-root with a read-only root filesystem, a /tmp emptyDir and resources', () => {
    for (const [name, spec] of podSpecs()) {
      expect(spec.securityContext.runAsNonRoot, name).toBe(true);
      expect(spec.automountServiceAccountToken, name).toBe(false);
      const container = spec.containers[0];
      expect(container.securityContext.readOnlyRootFilesystem, name).toBe(true);
      expect(container.securityContext.allowPrivilegeEscalation, name).toBe(false);
      expect(container.securityContext.capabilities.drop, name).toEqual(['ALL']);
      const tmp = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
      expect(spec.volumes.find((v: { name: string }) => v.name === tmp.name).emptyDir, name).toBeDefined();
      expect(container.resources.requests.cpu, name).toBeDefined();
      expect(container.resources.requests.memory, name).toBeDefined();
      expect(container.resources.limits.memory, name).toBeDefined();
      const config = name === 'epu-migrate' ? ['epu-config'] : ['epu-config', 'epu-storage'];
      expect(container.envFrom, name).toEqual(config.map((map) => ({ configMapRef: { name: map } })));
    }
  });

  it('gives each process its own ServiceAccount, without a token, and the secrets and buckets SECURITY.md lists', () => {
    // SECURITY.md, "Who gets which secret": migrate runs `epu migrate`, which needs only the database.
    const rows = rowsOf(readSecretTable(here), 'Kubernetes');
    expect([...rows.keys()].sort()).toEqual(['functions', 'migrate', 'web', 'worker']);
    const uses = Object.fromEntries([...rows].map(([process, row]) => [`epu-${process}`, row.secrets]));
    /** The buckets a pod's settings name, from the ConfigMaps it loads and its own env. */
    const bucketsOf = (container: { envFrom?: { configMapRef: { name: string } }[]; env?: { name: string }[] }) => {
      const names = [
        ...(container.envFrom ?? []).flatMap((from) => Object.keys(find(objects, 'ConfigMap', from.configMapRef.name).data ?? {})),
        ...(container.env ?? []).map((variable) => variable.name),
      ];
      const settings: [string, string][] = [
        ['STORAGE_URL', 'media'],
        ['BACKUP_STORAGE_URL', 'backups'],
        ['BACKUP_COPY_URL', 'backup copy'],
      ];
      return settings
        .filter(([setting]) => names.includes(setting))
        .map(([, bucket]) => bucket)
        .sort();
    };
    const accounts = new Set<string>();
    for (const [name, spec] of podSpecs()) {
      const account = find(objects, 'ServiceAccount', spec.serviceAccountName);
      expect(account.metadata.name, name).toBe(name);
      expect((account as Obj & { automountServiceAccountToken?: boolean }).automountServiceAccountToken, name).toBe(false);
      accounts.add(account.metadata.name);
      const container = spec.containers[0];
      const secretRefs = (container.env ?? [])
        .filter((variable: { valueFrom?: { secretKeyRef?: unknown } }) => variable.valueFrom?.secretKeyRef)
        .map((variable: { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } }) => {
          expect(variable.valueFrom.secretKeyRef, `${name} ${variable.name}`).toEqual({ name: 'epu-secrets', key: variable.name });
          return variable.name;
        });
      expect(secretRefs.sort(), name).toEqual(uses[name]);
      expect(bucketsOf(container), name).toEqual(rows.get(name.replace('epu-', ''))!.buckets);
      expect(JSON.stringify(spec), name).not.toContain('"secretRef"');
    }
    expect(accounts.size).toBe(4);
    // Every key a process reads is one the ExternalSecret provides.
    const provided = find(objects, 'ExternalSecret', 'epu-secrets').spec.data.map((entry: { secretKey: string }) => entry.secretKey);
    for (const keys of Object.values(uses)) for (const key of keys) expect(provided).toContain(key);
  });

  it('gives SMTP_URL to the worker, which sends, and to the web, which queues booking mail only when mail goes out (decision 0041)', () => {
    for (const [name, spec] of podSpecs()) {
      const smtp = (spec.containers[0].env ?? []).some((variable: { name: string }) => variable.name === 'SMTP_URL');
      expect(smtp, name).toBe(name === 'epu-web' || name === 'epu-worker');
    }
  });

  it('probes web on /livez and /healthz, drains before stopping and spreads across zones', () => {
    const spec = find(objects, 'Deployment', 'epu-web').spec.template.spec;
    const web = spec.containers[0];
    expect(web.livenessProbe.httpGet.path).toBe('/livez');
    expect(web.startupProbe.httpGet.path).toBe('/livez');
    expect(web.readinessProbe.httpGet.path).toBe('/healthz');
    expect(web.lifecycle.preStop.exec.command).toBeDefined();
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    expect(spec.topologySpreadConstraints.map((c: { topologyKey: string }) => c.topologyKey)).toContain('topology.kubernetes.io/zone');
  });

  it("probes every long-running role where its own health is, as the image's HEALTHCHECK does", () => {
    // Readiness asks /healthz (web and functions on their listener, which the operations port relays
    // for the HEALTHCHECK; the worker on the operations port itself), liveness /livez, so a database
    // outage makes pods unready but never restarts them. src/entrypoints/health.int.test.ts runs each.
    const metricsPort = Number(find(objects, 'ConfigMap', 'epu-config').data!.METRICS_PORT);
    const expected = { 'epu-web': 'http', 'epu-worker': 'metrics', 'epu-functions': 'http' } as const;
    for (const [name, port] of Object.entries(expected)) {
      const container = find(objects, 'Deployment', name).spec.template.spec.containers[0];
      expect(container.readinessProbe.httpGet, name).toEqual({ path: '/healthz', port });
      expect(container.livenessProbe.httpGet, name).toEqual({ path: '/livez', port });
      expect(container.ports.find((p: { name: string }) => p.name === 'metrics').containerPort, name).toBe(metricsPort);
    }
  });

  it('wires Services, HPA, PDB and ServiceMonitor to objects that exist', () => {
    const podLabels = (name: string) => find(objects, 'Deployment', name).spec.template.metadata.labels as Record<string, string>;
    for (const service of objects.filter((o) => o.kind === 'Service')) {
      const labels = podLabels(service.metadata.name);
      for (const [key, value] of Object.entries(service.spec.selector as Record<string, string>))
        expect(labels[key], service.metadata.name).toBe(value);
    }
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'epu-web');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'epu-web' });
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    expect(find(objects, 'Deployment', 'epu-web').spec.replicas).toBe(hpa.spec.minReplicas);
    expect(find(objects, 'PodDisruptionBudget', 'epu-web').spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'epu-web' });
    const monitor = find(objects, 'ServiceMonitor', 'epu');
    const scraped = objects.filter(
      (o) => o.kind === 'Service' && Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v),
    );
    expect(scraped.map((s) => s.metadata.name).sort()).toEqual(['epu-functions', 'epu-web', 'epu-worker']);
    for (const service of scraped) expect(service.spec.ports.find((p: { name: string }) => p.name === 'metrics').port).toBe(9464);
  });

  it('serves the overlay hostname over TLS with cert-manager, matching PUBLIC_URL', () => {
    const ingress = find(objects, 'Ingress', 'epu-web');
    const host = ingress.spec.rules[0].host as string;
    expect(ingress.spec.tls[0].hosts).toEqual([host]);
    expect(ingress.metadata.annotations?.['cert-manager.io/cluster-issuer']).toBeTruthy();
    expect(find(objects, 'ConfigMap', 'epu-config').data!.PUBLIC_URL).toBe(`https://${host}`);
  });

  it('gets secrets from a ClusterSecretStore defined in deploy/k8s/cluster', () => {
    const external = find(objects, 'ExternalSecret', 'epu-secrets');
    const stores = render('cluster')
      .filter((o) => o.kind === 'ClusterSecretStore')
      .map((o) => o.metadata.name);
    expect(external.spec.secretStoreRef.kind).toBe('ClusterSecretStore');
    expect(stores).toContain(external.spec.secretStoreRef.name);
    expect(external.spec.target.name).toBe('epu-secrets');
    const keys = external.spec.data.map((d: { secretKey: string }) => d.secretKey);
    for (const key of ['SECRET_KEY', 'DATABASE_URL', 'REDIS_URL', 'FUNCTIONS_TOKEN']) expect(keys).toContain(key);
    const config = find(objects, 'ConfigMap', 'epu-config').data!;
    for (const key of keys) expect(config[key], `${key} must not also be in the ConfigMap`).toBeUndefined();
  });

  it('runs the migration Job as a pre-rollout hook', () => {
    const job = find(objects, 'Job', 'epu-migrate');
    expect(job.metadata.annotations).toMatchObject({ 'argocd.argoproj.io/hook': 'PreSync', 'helm.sh/hook': 'pre-install,pre-upgrade' });
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
  });

  it('denies traffic by default and opens database and Redis egress only to EPU pods', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const deny = find(objects, 'NetworkPolicy', 'default-deny-all');
    expect(deny.spec.podSelector).toEqual({});
    expect(deny.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(deny.spec.ingress).toBeUndefined();
    expect(deny.spec.egress).toBeUndefined();
    const dataPorts = [5432, 6379];
    for (const policy of policies) {
      const ports = (policy.spec.egress ?? []).flatMap((rule: { ports?: { port: number }[] }) => (rule.ports ?? []).map((p) => p.port));
      if (ports.some((port: number) => dataPorts.includes(port))) {
        expect(policy.spec.podSelector.matchLabels, policy.metadata.name).toEqual({ 'app.kubernetes.io/part-of': 'epu' });
      }
    }
    const webIngress = find(objects, 'NetworkPolicy', 'epu-web-ingress');
    expect(webIngress.spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
    ]);
  });
});

describe.skipIf(!canRender)('overlays differ where environments do', () => {
  it('scales prod above staging above dev', () => {
    const hpa = (overlay: string) => find(render(`overlays/${overlay}`), 'HorizontalPodAutoscaler', 'epu-web').spec;
    const [dev, staging, prod] = OVERLAYS.map(hpa);
    expect(dev!.maxReplicas).toBeLessThan(staging!.maxReplicas);
    expect(staging!.maxReplicas).toBeLessThan(prod!.maxReplicas);
    expect(prod!.minReplicas).toBeGreaterThanOrEqual(3);
  });

  it('uses distinct hostnames and namespaces', () => {
    const hosts = OVERLAYS.map((o) => find(render(`overlays/${o}`), 'Ingress', 'epu-web').spec.rules[0].host);
    expect(new Set(hosts).size).toBe(3);
    expect(find(render('overlays/prod'), 'ConfigMap', 'epu-config').data!.APP_ENV).toBe('production');
  });
});
