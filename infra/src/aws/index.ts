import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs } from '../environments';
import { createDatabase } from './database';
import { createRoles } from './iam';
import { createMonitoring } from './monitoring';
import { createNetwork } from './network';
import { createSecrets } from './secrets';
import { createServices } from './services';
import { createStorage } from './storage';

/** Everything EPU needs on AWS for one environment. */
export function deployAws(inputs: DeployInputs) {
  if (!inputs.aws) throw new Error('AWS settings are missing');
  const opts: pulumi.CustomResourceOptions = {};
  const accountId = aws.getCallerIdentityOutput({}).accountId;

  const network = createNetwork(inputs, opts);
  const database = createDatabase(inputs, network, opts);
  const storage = createStorage(inputs, accountId, opts);
  const secrets = createSecrets(inputs, { databaseUrl: database.url, redisUrl: database.redisUrl }, opts);
  const roles = createRoles(inputs, storage, secrets, opts);
  const services = createServices(inputs, network, storage, secrets, roles, accountId, opts);
  const monitoring = createMonitoring(inputs, database, storage, services, accountId, opts);
  return { network, database, storage, secrets, roles, services, monitoring };
}

export type AwsDeployment = ReturnType<typeof deployAws>;

export function awsOutputs(d: AwsDeployment) {
  return {
    cloud: 'aws',
    publicUrl: d.services.publicUrl,
    albDnsName: d.services.alb.dnsName,
    functionsUrl: d.services.functionsUrl,
    cdnBaseUrl: d.storage.cdnBaseUrl,
    mediaBucket: d.storage.media.bucket,
    backupsBucket: d.storage.backups.bucket,
    backupCopyBucket: d.storage.backupCopy?.bucket.bucket,
    backupCopyRegion: d.storage.backupCopy?.region,
    storageUrl: pulumi.interpolate`s3://${d.storage.media.bucket}`,
    databaseEndpoint: d.database.instance.address,
    ecsCluster: d.services.cluster.name,
    migrateTaskDefinition: d.services.taskDefinitions.migrate.arn,
    privateSubnetIds: d.network.privateSubnets.map((s) => s.id),
    appSecurityGroupId: d.network.sg.app.id,
    imageRepository: d.roles.repository.repositoryUrl,
    alertTopicArn: d.monitoring.topic.arn,
    secretArns: Object.fromEntries(Object.entries(d.secrets).map(([name, s]) => [name, s.secret.arn])),
  };
}
