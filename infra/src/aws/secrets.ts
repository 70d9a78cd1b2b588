import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { DeployInputs } from '../environments';
import type { Component } from './iam';

export interface AwsSecret {
  secret: aws.secretsmanager.Secret;
  version: aws.secretsmanager.SecretVersion;
  env: string;
  readers: Component[];
}
export type AwsSecrets = Record<string, AwsSecret>;

/** Secrets Manager holds every credential EPU reads; ECS injects each into the tasks that list it. */
export function createSecrets(
  inputs: DeployInputs,
  values: { databaseUrl: pulumi.Input<string>; redisUrl?: pulumi.Input<string> },
  opts: pulumi.CustomResourceOptions,
): AwsSecrets {
  const { prefix, settings } = inputs;
  const secretKey = new random.RandomPassword(`${prefix}-secret-key`, { length: 64, special: false }, opts);
  const functionsToken = new random.RandomPassword(`${prefix}-functions-token`, { length: 48, special: false }, opts);

  const specs: Record<string, { env: string; value: pulumi.Input<string>; readers: Component[] }> = {
    'database-url': { env: 'DATABASE_URL', value: values.databaseUrl, readers: ['web', 'worker', 'functions', 'migrate'] },
    // migrate reads it too: the pre-deploy `epu backup` runs from the migrate task definition, and every
    // command but `epu migrate` needs SECRET_KEY in staging and production.
    'secret-key': { env: 'SECRET_KEY', value: secretKey.result, readers: ['web', 'worker', 'functions', 'migrate'] },
    'functions-token': { env: 'FUNCTIONS_TOKEN', value: functionsToken.result, readers: ['web', 'worker', 'functions'] },
  };
  if (values.redisUrl) specs['redis-url'] = { env: 'REDIS_URL', value: values.redisUrl, readers: ['web', 'worker', 'functions'] };
  if (inputs.sentryDsn)
    specs['sentry-dsn'] = { env: 'SENTRY_DSN', value: inputs.sentryDsn, readers: ['web', 'worker', 'functions', 'migrate'] };
  if (inputs.smtpUrl) specs['smtp-url'] = { env: 'SMTP_URL', value: inputs.smtpUrl, readers: ['web', 'worker'] };

  const out: AwsSecrets = {};
  for (const [name, spec] of Object.entries(specs)) {
    const secret = new aws.secretsmanager.Secret(
      `${prefix}-${name}`,
      {
        name: `${prefix}/${name}`,
        description: `EPU ${settings.name} ${spec.env}`,
        recoveryWindowInDays: settings.name === 'prod' ? 30 : 7,
        tags: { app: 'epu', env: settings.name },
      },
      opts,
    );
    // Rotation writes new versions outside Pulumi; the first value is all Pulumi owns.
    const version = new aws.secretsmanager.SecretVersion(
      `${prefix}-${name}`,
      {
        secretId: secret.id,
        secretString: pulumi.secret(spec.value),
      },
      { ...opts, ignoreChanges: name === 'secret-key' ? ['secretString'] : [] },
    );
    out[name] = { secret, version, env: spec.env, readers: spec.readers };
  }
  return out;
}

/**
 * Rotates SECRET_KEY: prepends a fresh key to EPU's comma list and keeps the last
 * few, so cookies signed with older keys still open and nobody is logged out; then
 * rolls the ECS services so every task reads the new list.
 */
export const SECRET_KEY_ROTATION_CODE = `
import { SecretsManagerClient, DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { randomBytes } from 'node:crypto';

const sm = new SecretsManagerClient({});
const ecs = new ECSClient({});
const keep = Number(process.env.KEEP_KEYS || '3');

export async function handler({ SecretId, ClientRequestToken: token, Step }) {
  const meta = await sm.send(new DescribeSecretCommand({ SecretId }));
  if (!meta.RotationEnabled) throw new Error('rotation is not enabled for ' + SecretId);
  const stages = (meta.VersionIdsToStages || {})[token] || [];
  if (stages.includes('AWSCURRENT')) return;
  if (!stages.includes('AWSPENDING')) throw new Error('version ' + token + ' is not pending');
  if (Step === 'createSecret') {
    try {
      await sm.send(new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }));
      return;
    } catch (error) {
      if (error.name !== 'ResourceNotFoundException') throw error;
    }
    const current = (await sm.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSCURRENT' }))).SecretString || '';
    const keys = [randomBytes(48).toString('base64url'), ...current.split(',').map((k) => k.trim()).filter(Boolean)].slice(0, keep);
    await sm.send(new PutSecretValueCommand({ SecretId, ClientRequestToken: token, SecretString: keys.join(','), VersionStages: ['AWSPENDING'] }));
  } else if (Step === 'finishSecret') {
    const previous = Object.entries(meta.VersionIdsToStages).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId, VersionStage: 'AWSCURRENT', MoveToVersionId: token, RemoveFromVersionId: previous }));
    for (const service of (process.env.ECS_SERVICES || '').split(',').filter(Boolean)) {
      await ecs.send(new UpdateServiceCommand({ cluster: process.env.ECS_CLUSTER, service, forceNewDeployment: true }));
    }
  }
}
`;
