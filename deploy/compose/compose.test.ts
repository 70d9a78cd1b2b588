// docker-compose.yml against the Compose specification's JSON schema, plus the
// checks a schema cannot make: mounted files exist, dependencies name real
// services, every EPU process gets the settings production requires.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse, parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/env.js';
import { readSecretTable, rowsOf } from '../../infra/test/security-table.js';

const root = path.resolve(import.meta.dirname, '../..');
const source = fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  ports?: string[];
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

// `merge: true` resolves the YAML merge keys (<<) the file uses, as Compose does.
const compose = parse(source, { merge: true }) as ComposeFile;
const services = compose.services;

/** The vendored schema uses draft-04 `id` keys, which Ajv refuses: the root one becomes `$id`, the
 * nested ones (informational `#/properties/...` anchors no `$ref` uses) are dropped. */
function withoutDraft4Ids(node: unknown, isRoot = false): unknown {
  if (Array.isArray(node)) return node.map((item) => withoutDraft4Ids(item));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'id' && typeof value === 'string') {
      if (isRoot) out.$id = value;
      continue;
    }
    out[key] = withoutDraft4Ids(value);
  }
  return out;
}

function validator() {
  const { $schema, ...schema } = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'compose-spec.schema.json'), 'utf8'));
  // The vendored schema names draft 2019-09 by its old http://...# address, which Ajv2019 knows as
  // https://json-schema.org/draft/2019-09/schema; it is that draft either way, so the name is dropped.
  expect($schema).toBe('http://json-schema.org/draft/2019-09/schema#');
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  return ajv.compile(withoutDraft4Ids(schema, true) as object);
}

describe('docker-compose.yml', () => {
  it('parses as YAML without errors or warnings', () => {
    const document = parseDocument(source, { merge: true });
    expect(document.errors).toEqual([]);
    expect(document.warnings).toEqual([]);
  });

  it('conforms to the Compose specification schema', () => {
    const validate = validator();
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the schema catches a broken file', () => {
    const validate = validator();
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services['web-1']!.depends_on = { postgres: { condition: 'when_it_feels_like_it' } };
    broken.services['web-2']!.restart_policy = 'always';
    expect(validate(broken)).toBe(false);
  });

  it('has the whole production-like stack', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'epu-migrate',
        'functions',
        'grafana',
        'jaeger',
        'minio',
        'minio-init',
        'otel-collector',
        'postgres',
        'prometheus',
        'proxy',
        'redis',
        'web-1',
        'web-2',
        'worker',
      ].sort(),
    );
    expect(services.postgres!.image).toBe('postgres:17');
    expect(services.redis!.image).toBe('redis:7');
    expect(services['minio-init']!.image).toMatch(/^minio\/mc/);
    expect(services['otel-collector']!.image).toMatch(/^otel\/opentelemetry-collector-contrib/);
    expect(services.jaeger!.image).toMatch(/^jaegertracing\/all-in-one/);
  });

  it('runs every EPU process from the one image, chosen by command', () => {
    const expected: Record<string, string> = {
      'epu-migrate': 'migrate',
      'web-1': 'web',
      'web-2': 'web',
      worker: 'worker',
      functions: 'functions',
    };
    for (const [name, command] of Object.entries(expected)) {
      const service = services[name]!;
      expect(service.image, name).toBe('epu:local');
      expect(service.build, name).toBeDefined();
      expect(service.command, name).toEqual([command]);
      const env = service.environment!;
      for (const required of ['APP_ENV', 'DATABASE_URL', 'PUBLIC_URL']) expect(env[required], `${name} ${required}`).toBeTruthy();
      // The migration holds no other secret (next test); the servers need the rest.
      if (command === 'migrate') continue;
      expect(env.SECRET_KEY, name).toBeTruthy();
      expect(env.FUNCTIONS_URL, name).toBe('http://functions:8081');
      expect(env.FUNCTIONS_TOKEN, name).toBeTruthy();
    }
    expect(services['web-1']!.environment!.TRUST_PROXY_HOPS).toBe('1');
    expect(services['web-2']!.environment!.TRUST_PROXY_HOPS).toBe('1');
  });

  it("gives each EPU process the secrets and buckets SECURITY.md's Compose rows list", () => {
    const rows = rowsOf(readSecretTable(root), 'Compose');
    const buckets: [string, string][] = [
      ['STORAGE_URL', 'media'],
      ['BACKUP_STORAGE_URL', 'backups'],
      ['BACKUP_COPY_URL', 'backup copy'],
    ];
    const processes = Object.values(services).filter((service) => service.image === 'epu:local');
    expect(new Set(processes.map((service) => (service.command as string[])[0])).size).toBe(rows.size);
    for (const service of processes) {
      const process = (service.command as string[])[0]!;
      const env = service.environment ?? {};
      // A secret here is a value from the env file secrets.sh writes.
      const secrets = Object.keys(env).filter((setting) => env[setting]!.includes('${STACK_'));
      expect(secrets.sort(), process).toEqual(rows.get(process)?.secrets);
      const named = buckets.filter(([setting]) => env[setting] !== undefined).map(([, bucket]) => bucket);
      expect(named.sort(), process).toEqual(rows.get(process)?.buckets);
    }
  });

  it('hands SMTP_URL to the web and the worker from the env file, empty (mail off) unless it is set there (decision 0041)', () => {
    for (const name of ['web-1', 'web-2', 'worker'])
      // The worker sends; the web queues booking confirmations only when mail goes out.
      expect(services[name]!.environment!.SMTP_URL, name).toBe('${STACK_SMTP_URL:-}');
    for (const name of ['epu-migrate', 'functions']) expect(services[name]!.environment!.SMTP_URL, name).toBeUndefined();
    const written = execFileSync(path.join(import.meta.dirname, 'secrets.sh'), { encoding: 'utf8' });
    // Written empty: the stack sends no mail (the next test starts each process with it).
    expect(written).toMatch(/^STACK_SMTP_URL=$/m);
  });

  it('binds every published port to 127.0.0.1 only', () => {
    const published = Object.entries(services).flatMap(([name, service]) => (service.ports ?? []).map((port) => [name, port]));
    expect(published.length).toBeGreaterThan(0);
    // The host port may be a setting with a default (EPU_STACK_HTTP_PORT, say): still on 127.0.0.1.
    for (const [name, port] of published) expect(port, name).toMatch(/^127\.0\.0\.1:(\d+|\$\{EPU_STACK_[A-Z_]+:-\d+\}):\d+$/);
  });

  it('commits no usable secret: each comes from the env file deploy/compose/secrets.sh writes, which production accepts', () => {
    // In the file: only required interpolations (${NAME:?…}: Compose stops without the env file).
    const secretSettings = [
      'SECRET_KEY',
      'FUNCTIONS_TOKEN',
      'AWS_SECRET_ACCESS_KEY',
      'POSTGRES_PASSWORD',
      'MINIO_ROOT_PASSWORD',
      'GF_SECURITY_ADMIN_PASSWORD',
    ];
    const seen = new Set<string>();
    for (const [name, service] of Object.entries(services)) {
      for (const [setting, value] of Object.entries(service.environment ?? {})) {
        if (secretSettings.includes(setting)) {
          expect(value, `${name} ${setting}`).toMatch(/^\$\{STACK_[A-Z_]+:\?[^}]+\}$/);
          seen.add(setting);
        }
        if (setting === 'DATABASE_URL') expect(value, name).toMatch(/^postgres:\/\/epu:\$\{STACK_POSTGRES_PASSWORD:\?[^}]+\}@/);
      }
    }
    expect([...seen].sort()).toEqual([...secretSettings].sort());

    // What the script writes fills every variable the file needs, and each EPU process starts with it.
    const written = Object.fromEntries(
      execFileSync(path.join(import.meta.dirname, 'secrets.sh'), { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const needed = new Set([...source.matchAll(/\$\{(STACK_[A-Z_]+)/g)].map((match) => match[1]!));
    expect(Object.keys(written).sort()).toEqual([...needed].sort());
    const filled = parse(
      source.replace(/\$\{(STACK_[A-Z_]+)(?::[?-][^}]*)?\}/g, (_, variable: string) => written[variable]!),
      { merge: true },
    ) as ComposeFile;
    for (const name of ['epu-migrate', 'web-1', 'web-2', 'worker', 'functions']) {
      // As the CLI reads it: `epu migrate` needs no SECRET_KEY.
      const options = { requireSecretKey: name !== 'epu-migrate' };
      expect(() => parseConfig(filled.services[name]!.environment, options), name).not.toThrow();
      expect(parseConfig(filled.services[name]!.environment, options).smtpUrl, name).toBeUndefined();
    }
  });

  it('starts EPU processes only after the one-shot migration and bucket creation succeed', () => {
    for (const name of ['web-1', 'web-2', 'worker', 'functions']) {
      const deps = services[name]!.depends_on!;
      expect(deps['epu-migrate']?.condition, name).toBe('service_completed_successfully');
      expect(deps['minio-init']?.condition, name).toBe('service_completed_successfully');
      expect(deps.postgres?.condition, name).toBe('service_healthy');
    }
    expect(services.proxy!.depends_on!['web-1']!.condition).toBe('service_healthy');
    expect(services.proxy!.depends_on!['web-2']!.condition).toBe('service_healthy');
  });

  it("checks every long-running EPU process with the image's HEALTHCHECK, and no one-shot", () => {
    const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const imageCheck = dockerfile.match(/^HEALTHCHECK .*\\\n\s*CMD (\[.*\])$/m);
    expect(imageCheck, 'the Dockerfile has a HEALTHCHECK').not.toBeNull();
    for (const name of ['web-1', 'web-2', 'worker', 'functions'])
      expect(services[name]!.healthcheck?.test, name).toEqual(['CMD', ...(JSON.parse(imageCheck![1]!) as string[])]);
    expect(services['epu-migrate']!.healthcheck).toEqual({ disable: true });
  });

  it('depends only on services that exist, and every healthy-condition target has a healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        if (condition === 'service_healthy') {
          expect(services[dep]!.healthcheck?.test, `${dep} needs a healthcheck for ${name}`).toBeDefined();
        }
      }
    }
  });

  it('mounts only files and directories that exist in the repository', () => {
    const named = new Set(Object.keys(compose.volumes ?? {}));
    const mounts = Object.entries(services).flatMap(([name, service]) =>
      (service.volumes ?? []).map((volume) => [name, volume.split(':')[0]!] as const),
    );
    expect(mounts.length).toBeGreaterThan(0);
    for (const [name, hostPath] of mounts) {
      if (named.has(hostPath)) continue;
      expect(hostPath.startsWith('./'), `${name}: ${hostPath} should be relative to the repository`).toBe(true);
      expect(fs.existsSync(path.join(root, hostPath)), `${name} mounts ${hostPath}`).toBe(true);
    }
  });

  it('scrapes every EPU process in its own Prometheus config and loads the shared rules', () => {
    const prometheus = parse(fs.readFileSync(path.join(import.meta.dirname, 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = Object.fromEntries(
      prometheus.scrape_configs.map((job) => [job.job_name, job.static_configs.flatMap((c) => c.targets)]),
    );
    expect(targets['epu-web']).toEqual(['web-1:9464', 'web-2:9464']);
    expect(targets['epu-worker']).toEqual(['worker:9464']);
    expect(targets['epu-functions']).toEqual(['functions:9464']);
    expect(prometheus.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
    expect(services.prometheus!.volumes).toContain('./deploy/observability/prometheus/rules:/etc/prometheus/rules:ro');
  });

  it('balances the proxy over both web replicas', () => {
    const nginx = fs.readFileSync(path.join(import.meta.dirname, 'nginx.conf'), 'utf8');
    expect(nginx).toMatch(/upstream epu_web \{[^}]*server web-1:3000[^}]*server web-2:3000/s);
    for (const header of ['X-Forwarded-For', 'X-Forwarded-Proto', 'Host']) expect(nginx).toContain(`proxy_set_header ${header}`);
  });

  it('sends traces from the collector to Jaeger', () => {
    const collector = parse(fs.readFileSync(path.join(import.meta.dirname, 'otel-collector.yml'), 'utf8')) as {
      exporters: Record<string, { endpoint?: string }>;
      service: { pipelines: Record<string, { receivers: string[]; exporters: string[] }> };
    };
    expect(collector.exporters['otlp/jaeger']!.endpoint).toBe('jaeger:4317');
    expect(collector.service.pipelines.traces!.receivers).toContain('otlp');
    expect(collector.service.pipelines.traces!.exporters).toContain('otlp/jaeger');
    expect(services['web-1']!.environment!.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector:4318');
  });
});
