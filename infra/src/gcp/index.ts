import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs } from '../environments';
import { createCdn } from './cdn';
import { createDatabase } from './database';
import { createIdentities, type Component } from './identities';
import { createMonitoring } from './monitoring';
import { createNetwork } from './network';
import { createSecrets } from './secrets';
import { createServices } from './services';
import { createStorage } from './storage';

const APIS = [
  'run.googleapis.com',
  'sqladmin.googleapis.com',
  'vpcaccess.googleapis.com',
  'servicenetworking.googleapis.com',
  'secretmanager.googleapis.com',
  'compute.googleapis.com',
  'redis.googleapis.com',
  'monitoring.googleapis.com',
  'eventarc.googleapis.com',
  'pubsub.googleapis.com',
  'billingbudgets.googleapis.com',
  'iam.googleapis.com',
];

/** Everything EPU needs on Google Cloud for one environment. */
export function deployGcp(inputs: DeployInputs) {
  if (!inputs.gcp) throw new Error('gcp:project and epu:billingAccount are required when epu:cloud is gcp');
  const { prefix } = inputs;
  const apis = APIS.map(
    (service) =>
      new gcp.projects.Service(`${prefix}-api-${service.split('.')[0]}`, {
        project: inputs.gcp!.project,
        service,
        disableOnDestroy: false,
      }),
  );
  const opts: pulumi.CustomResourceOptions = { dependsOn: apis };
  const project = gcp.organizations.getProjectOutput({ projectId: inputs.gcp.project });
  const projectNumber = project.number;

  const network = createNetwork(inputs, opts);
  const database = createDatabase(inputs, network, opts);
  const storage = createStorage(inputs, opts);
  const cdn = createCdn(inputs, storage, opts);
  const ids = createIdentities(inputs, opts);

  // Each process talks to GCS through the S3-compatible endpoint with an HMAC key of its own identity.
  // migrate's key can reach only the backups bucket (the pre-deploy `epu backup` runs as that job).
  const s3Keys: Partial<Record<Component, gcp.storage.HmacKey>> = {};
  for (const component of ['web', 'worker', 'functions', 'migrate'] as const) {
    s3Keys[component] = new gcp.storage.HmacKey(`${prefix}-hmac-${component}`, { serviceAccountEmail: ids[component].email }, opts);
  }
  const secrets = createSecrets(inputs, ids, { databaseUrl: database.url, redisUrl: database.redisUrl, s3Keys }, opts);
  const services = createServices(inputs, ids, network, storage, secrets, { cdnBaseUrl: cdn.baseUrl, projectNumber }, opts);
  const monitoring = createMonitoring(inputs, database, storage, services, projectNumber, opts);

  return { apis, network, database, storage, cdn, ids, s3Keys, secrets, services, monitoring };
}

export type GcpDeployment = ReturnType<typeof deployGcp>;

/** Stack outputs: what operators and CI read, and what EPU's env vars come from. */
export function gcpOutputs(d: GcpDeployment) {
  return {
    cloud: 'gcp',
    publicUrl: d.services.publicUrl,
    webUrl: d.services.web.uri,
    functionsUrl: d.services.functions.uri,
    cdnBaseUrl: d.cdn.baseUrl,
    cdnAddress: d.cdn.address.address,
    mediaBucket: d.storage.media.name,
    backupsBucket: d.storage.backups.name,
    backupCopyBucket: d.storage.backupCopy?.name,
    storageUrl: pulumi.interpolate`s3://${d.storage.media.name}`,
    databaseInstance: d.database.instance.connectionName,
    databasePrivateIp: d.database.instance.privateIpAddress,
    migrateJob: d.services.migrate.name,
    deployerServiceAccount: d.ids.deployer.email,
    secretIds: Object.fromEntries(Object.entries(d.secrets).map(([name, s]) => [name, s.secret.secretId])),
  };
}
