import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { DeployInputs } from '../environments';
import { member, type Component, type GcpIdentities } from './identities';

export interface GcpSecret {
  secret: gcp.secretmanager.Secret;
  version: gcp.secretmanager.SecretVersion;
  /** EPU environment variable the secret feeds. */
  env: string;
  readers: Component[];
}

export type GcpSecrets = Record<string, GcpSecret>;

interface SecretSpec {
  env: string;
  value: pulumi.Input<string>;
  readers: Component[];
}

/**
 * Secret Manager holds every credential EPU reads; Cloud Run mounts each into the
 * processes that need it as an environment variable, so none sits in plain config.
 * Readers are granted per secret.
 */
export function createSecrets(
  inputs: DeployInputs,
  ids: GcpIdentities,
  values: {
    databaseUrl: pulumi.Input<string>;
    redisUrl?: pulumi.Input<string>;
    s3Keys: Partial<Record<Component, gcp.storage.HmacKey>>;
  },
  opts: pulumi.CustomResourceOptions,
): GcpSecrets {
  const { prefix, settings } = inputs;
  const secretKey = new random.RandomPassword(`${prefix}-secret-key`, { length: 64, special: false }, opts);
  const functionsToken = new random.RandomPassword(`${prefix}-functions-token`, { length: 48, special: false }, opts);

  const specs: Record<string, SecretSpec> = {
    'database-url': { env: 'DATABASE_URL', value: values.databaseUrl, readers: ['web', 'worker', 'functions', 'migrate'] },
    // migrate reads it too: CI runs the pre-deploy `epu backup` as a one-off execution of the migrate job,
    // and every command but `epu migrate` needs SECRET_KEY in staging and production.
    'secret-key': { env: 'SECRET_KEY', value: secretKey.result, readers: ['web', 'worker', 'functions', 'migrate'] },
    'functions-token': { env: 'FUNCTIONS_TOKEN', value: functionsToken.result, readers: ['web', 'worker', 'functions'] },
  };
  if (values.redisUrl) specs['redis-url'] = { env: 'REDIS_URL', value: values.redisUrl, readers: ['web', 'worker', 'functions'] };
  if (inputs.sentryDsn)
    specs['sentry-dsn'] = { env: 'SENTRY_DSN', value: inputs.sentryDsn, readers: ['web', 'worker', 'functions', 'migrate'] };
  if (inputs.smtpUrl) specs['smtp-url'] = { env: 'SMTP_URL', value: inputs.smtpUrl, readers: ['web', 'worker'] };
  for (const [component, key] of Object.entries(values.s3Keys) as [Component, gcp.storage.HmacKey][]) {
    specs[`s3-access-key-id-${component}`] = { env: 'AWS_ACCESS_KEY_ID', value: key.accessId, readers: [component] };
    specs[`s3-secret-access-key-${component}`] = { env: 'AWS_SECRET_ACCESS_KEY', value: key.secret, readers: [component] };
  }

  const out: GcpSecrets = {};
  for (const [name, spec] of Object.entries(specs)) {
    const secret = new gcp.secretmanager.Secret(
      `${prefix}-${name}`,
      {
        secretId: `${prefix}-${name}`,
        replication: { auto: {} },
        labels: { app: 'epu', env: settings.name },
      },
      opts,
    );
    const version = new gcp.secretmanager.SecretVersion(
      `${prefix}-${name}`,
      {
        secret: secret.id,
        secretData: pulumi.secret(spec.value),
      },
      opts,
    );
    for (const reader of spec.readers) {
      new gcp.secretmanager.SecretIamMember(
        `${prefix}-${name}-${reader}`,
        {
          secretId: secret.id,
          role: 'roles/secretmanager.secretAccessor',
          member: member(ids[reader]),
        },
        opts,
      );
    }
    out[name] = { secret, version, env: spec.env, readers: spec.readers };
  }
  return out;
}

/** The secrets a component may read, as Cloud Run environment entries. */
export function secretEnv(secrets: GcpSecrets, component: Component) {
  return Object.values(secrets)
    .filter((s) => s.readers.includes(component))
    .map((s) => ({ name: s.env, valueSource: { secretKeyRef: { secret: s.secret.secretId, version: 'latest' } } }));
}
