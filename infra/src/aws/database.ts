import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { DeployInputs } from '../environments';
import type { AwsNetwork } from './network';

export interface AwsDatabase {
  parameters: aws.rds.ParameterGroup;
  instance: aws.rds.Instance;
  password: random.RandomPassword;
  url: pulumi.Output<string>;
  redis?: aws.elasticache.ReplicationGroup;
  redisUrl?: pulumi.Output<string>;
}

/**
 * RDS PostgreSQL in private subnets, never publicly accessible, encrypted at rest,
 * TLS forced by parameter, automated backups (which give point-in-time recovery
 * over the retention window), Multi-AZ and deletion protection in prod.
 */
export function createDatabase(inputs: DeployInputs, net: AwsNetwork, opts: pulumi.CustomResourceOptions): AwsDatabase {
  const { prefix, settings } = inputs;
  const db = settings.database;
  const prod = settings.name === 'prod';

  const subnets = new aws.rds.SubnetGroup(`${prefix}-db`, { subnetIds: net.privateSubnets.map((s) => s.id) }, opts);
  const parameters = new aws.rds.ParameterGroup(
    `${prefix}-pg17`,
    {
      family: 'postgres17',
      description: `EPU ${settings.name}: TLS only, slow query log`,
      parameters: [
        { name: 'rds.force_ssl', value: '1' },
        { name: 'ssl_min_protocol_version', value: 'TLSv1.2' },
        { name: 'log_min_duration_statement', value: '1000' },
        { name: 'max_connections', value: String(db.maxConnections), applyMethod: 'pending-reboot' },
      ],
    },
    opts,
  );

  const password = new random.RandomPassword(`${prefix}-db-password`, { length: 32, special: false }, opts);
  const instance = new aws.rds.Instance(
    `${prefix}-pg`,
    {
      identifier: `${prefix}-pg`,
      engine: 'postgres',
      engineVersion: '17',
      instanceClass: db.awsInstanceClass,
      allocatedStorage: db.storageGb,
      maxAllocatedStorage: db.maxStorageGb,
      storageType: 'gp3',
      storageEncrypted: true,
      dbName: 'epu',
      username: 'epu',
      password: password.result,
      dbSubnetGroupName: subnets.name,
      vpcSecurityGroupIds: [net.sg.db.id],
      parameterGroupName: parameters.name,
      publiclyAccessible: false,
      multiAz: db.highAvailability,
      backupRetentionPeriod: db.backupRetentionDays,
      backupWindow: '02:00-03:00',
      maintenanceWindow: 'sun:03:30-sun:04:30',
      copyTagsToSnapshot: true,
      deleteAutomatedBackups: !prod,
      deletionProtection: db.deletionProtection,
      skipFinalSnapshot: !prod,
      finalSnapshotIdentifier: prod ? `${prefix}-pg-final` : undefined,
      autoMinorVersionUpgrade: true,
      performanceInsightsEnabled: true,
      enabledCloudwatchLogsExports: ['postgresql'],
      caCertIdentifier: 'rds-ca-rsa2048-g1',
      tags: { app: 'epu', env: settings.name },
    },
    { ...opts, protect: db.deletionProtection },
  );

  const url = pulumi.secret(pulumi.interpolate`postgres://epu:${password.result}@${instance.address}:${instance.port}/epu?sslmode=require`);

  let redis: aws.elasticache.ReplicationGroup | undefined;
  let redisUrl: pulumi.Output<string> | undefined;
  if (settings.redis.enabled) {
    const redisSubnets = new aws.elasticache.SubnetGroup(`${prefix}-redis`, { subnetIds: net.privateSubnets.map((s) => s.id) }, opts);
    const authToken = new random.RandomPassword(`${prefix}-redis-token`, { length: 48, special: false }, opts);
    redis = new aws.elasticache.ReplicationGroup(
      `${prefix}-redis`,
      {
        description: `EPU ${settings.name} cache, rate limits and pub/sub`,
        engine: 'redis',
        engineVersion: '7.1',
        nodeType: settings.redis.awsNodeType,
        numCacheClusters: 1 + settings.redis.replicas,
        automaticFailoverEnabled: settings.redis.replicas > 0,
        multiAzEnabled: settings.redis.replicas > 0,
        subnetGroupName: redisSubnets.name,
        securityGroupIds: [net.sg.redis.id],
        atRestEncryptionEnabled: true,
        transitEncryptionEnabled: true,
        authToken: authToken.result,
        port: 6379,
        tags: { app: 'epu', env: settings.name },
      },
      opts,
    );
    redisUrl = pulumi.secret(pulumi.interpolate`rediss://:${authToken.result}@${redis.primaryEndpointAddress}:6379`);
  }

  return { parameters, instance, password, url, redis, redisUrl };
}
