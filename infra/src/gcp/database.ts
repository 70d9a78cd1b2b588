import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { DeployInputs } from '../environments';
import type { GcpNetwork } from './network';

export interface GcpDatabase {
  instance: gcp.sql.DatabaseInstance;
  database: gcp.sql.Database;
  user: gcp.sql.User;
  password: random.RandomPassword;
  /** postgres://… on the private address, TLS required. */
  url: pulumi.Output<string>;
  redis?: gcp.redis.Instance;
  redisUrl?: pulumi.Output<string>;
}

/**
 * Cloud SQL for PostgreSQL on a private address only, TLS required, automatic
 * daily backups with point-in-time recovery, and (in prod) a standby in another
 * zone and deletion protection both in Google's API and in Pulumi.
 */
export function createDatabase(inputs: DeployInputs, net: GcpNetwork, opts: pulumi.CustomResourceOptions): GcpDatabase {
  const { prefix, region, settings } = inputs;
  const db = settings.database;

  const instance = new gcp.sql.DatabaseInstance(
    `${prefix}-pg`,
    {
      name: `${prefix}-pg`,
      region,
      databaseVersion: 'POSTGRES_17',
      deletionProtection: db.deletionProtection,
      settings: {
        edition: 'ENTERPRISE',
        tier: db.gcpTier,
        availabilityType: db.highAvailability ? 'REGIONAL' : 'ZONAL',
        deletionProtectionEnabled: db.deletionProtection,
        diskType: 'PD_SSD',
        diskSize: db.storageGb,
        diskAutoresize: true,
        diskAutoresizeLimit: db.maxStorageGb,
        ipConfiguration: {
          ipv4Enabled: false,
          privateNetwork: net.network.id,
          sslMode: 'ENCRYPTED_ONLY',
          enablePrivatePathForGoogleCloudServices: false,
        },
        backupConfiguration: {
          enabled: true,
          startTime: '02:00',
          pointInTimeRecoveryEnabled: true,
          transactionLogRetentionDays: Math.min(7, db.backupRetentionDays),
          backupRetentionSettings: { retainedBackups: db.backupRetentionDays, retentionUnit: 'COUNT' },
        },
        maintenanceWindow: { day: 7, hour: 3, updateTrack: 'stable' },
        insightsConfig: { queryInsightsEnabled: true, recordApplicationTags: true, recordClientAddress: false },
        databaseFlags: [
          { name: 'max_connections', value: String(db.maxConnections) },
          { name: 'log_min_duration_statement', value: '1000' },
          { name: 'log_lock_waits', value: 'on' },
        ],
        userLabels: { app: 'epu', env: settings.name },
      },
    },
    { ...opts, dependsOn: [net.privateServiceConnection], protect: db.deletionProtection },
  );

  const database = new gcp.sql.Database(`${prefix}-db`, { name: 'epu', instance: instance.name }, opts);
  const password = new random.RandomPassword(`${prefix}-db-password`, { length: 32, special: false }, opts);
  const user = new gcp.sql.User(
    `${prefix}-db-user`,
    {
      name: 'epu',
      instance: instance.name,
      password: password.result,
    },
    opts,
  );

  const url = pulumi.secret(pulumi.interpolate`postgres://epu:${password.result}@${instance.privateIpAddress}:5432/epu?sslmode=require`);

  let redis: gcp.redis.Instance | undefined;
  let redisUrl: pulumi.Output<string> | undefined;
  if (settings.redis.enabled) {
    redis = new gcp.redis.Instance(
      `${prefix}-redis`,
      {
        name: `${prefix}-redis`,
        region,
        tier: settings.redis.replicas > 0 ? 'STANDARD_HA' : 'BASIC',
        memorySizeGb: settings.redis.gcpMemoryGb,
        redisVersion: 'REDIS_7_2',
        authorizedNetwork: net.network.id,
        connectMode: 'PRIVATE_SERVICE_ACCESS',
        authEnabled: true,
        transitEncryptionMode: 'SERVER_AUTHENTICATION',
        labels: { app: 'epu', env: settings.name },
      },
      { ...opts, dependsOn: [net.privateServiceConnection] },
    );
    redisUrl = pulumi.secret(pulumi.interpolate`rediss://:${redis.authString}@${redis.host}:${redis.port}`);
  }

  return { instance, database, user, password, url, redis, redisUrl };
}
