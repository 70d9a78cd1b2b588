// Per-environment settings: the dials each stack turns. Same programs, same
// image, different numbers. Scaling an environment is editing a number here
// (or overriding it in the stack's config), never changing a program.

export type StackName = 'dev' | 'staging' | 'prod';
export const STACKS: readonly StackName[] = ['dev', 'staging', 'prod'];

export interface ProcessSize {
  /** vCPU per instance. Cloud Run needs at least 1 with concurrency above 1. */
  cpu: number;
  memoryMiB: number;
  /** 0 lets Cloud Run scale the process to zero when idle (dev only). */
  minInstances: number;
  maxInstances: number;
}

export interface EnvironmentSettings {
  name: StackName;
  /** EPU's APP_ENV: every cloud stack runs with strict defaults. */
  appEnv: 'staging' | 'production';
  logLevel: 'debug' | 'info';
  web: ProcessSize & { concurrency: number };
  worker: ProcessSize;
  functions: ProcessSize & { concurrency: number };
  /** Share of Fargate tasks placed on FARGATE_SPOT (seed 003: dev 80%, staging 50%, prod 0%). */
  spotPercentage: number;
  /**
   * Dev only: stop every process outside working hours (seed 003 "auto-shutdown 18:00-08:00").
   * Cron expressions in `timezone`; unset keeps processes up around the clock.
   */
  offHours?: { stopCron: string; startCron: string; timezone: string };
  database: {
    /** Cloud SQL machine tier. */
    gcpTier: string;
    /** RDS instance class. */
    awsInstanceClass: string;
    storageGb: number;
    /** Storage autoscaling ceiling. */
    maxStorageGb: number;
    /** Cloud SQL REGIONAL availability / RDS Multi-AZ: a standby in another zone. */
    highAvailability: boolean;
    /** Days of automatic backups kept, and so how far back point-in-time recovery reaches on RDS. */
    backupRetentionDays: number;
    /** Refuse to delete the database through the API or through `pulumi destroy`. */
    deletionProtection: boolean;
    /** PostgreSQL max_connections; alerts fire at 80% of it. */
    maxConnections: number;
    /** EPU's DATABASE_POOL_MAX per process: keep (web max + worker max + functions max) x pool under maxConnections. */
    poolMax: number;
  };
  /** Optional Redis (Memorystore / ElastiCache). EPU works without it, only slower. */
  redis: { enabled: boolean; gcpMemoryGb: number; awsNodeType: string; replicas: number };
  storage: {
    /** Days an overwritten or deleted media object's old version is kept. */
    mediaNoncurrentDays: number;
    /** Days before a backup moves to colder (cheaper, slower to read) storage. */
    backupColdAfterDays: number;
    /** Days before a backup object is deleted; EPU's BACKUP_KEEP prunes by count before that. */
    backupExpireDays: number;
  };
  /** Monthly budget in the billing account's currency, and the shares of it that alert. */
  budget: { monthlyAmount: number; thresholds: number[] };
  /** Days between automatic SECRET_KEY rotations (old keys stay accepted). */
  secretRotationDays: number;
  logRetentionDays: number;
  /** EPU's BACKUP_KEEP. */
  backupKeep: number;
  /**
   * Copy every backup to a bucket in a second region (EPU's BACKUP_COPY_URL, on
   * the worker only), the stack's `epu:backupCopyRegion` (seed 003: cross_region).
   */
  backupCopy: boolean;
}

const dev: EnvironmentSettings = {
  name: 'dev',
  appEnv: 'staging',
  logLevel: 'debug',
  web: { cpu: 1, memoryMiB: 512, minInstances: 0, maxInstances: 3, concurrency: 80 },
  worker: { cpu: 1, memoryMiB: 1024, minInstances: 1, maxInstances: 1 },
  functions: { cpu: 1, memoryMiB: 512, minInstances: 0, maxInstances: 3, concurrency: 40 },
  spotPercentage: 80,
  offHours: { stopCron: 'cron(0 18 ? * MON-FRI *)', startCron: 'cron(0 8 ? * MON-FRI *)', timezone: 'Europe/London' },
  database: {
    gcpTier: 'db-g1-small',
    awsInstanceClass: 'db.t4g.micro',
    storageGb: 20,
    maxStorageGb: 50,
    highAvailability: false,
    backupRetentionDays: 7,
    deletionProtection: false,
    maxConnections: 100,
    poolMax: 5,
  },
  redis: { enabled: false, gcpMemoryGb: 1, awsNodeType: 'cache.t4g.micro', replicas: 0 },
  storage: { mediaNoncurrentDays: 7, backupColdAfterDays: 30, backupExpireDays: 60 },
  budget: { monthlyAmount: 100, thresholds: [0.5, 0.8, 1.0] },
  secretRotationDays: 30,
  logRetentionDays: 14,
  backupKeep: 7,
  backupCopy: false,
};

const staging: EnvironmentSettings = {
  name: 'staging',
  appEnv: 'staging',
  logLevel: 'info',
  web: { cpu: 1, memoryMiB: 1024, minInstances: 1, maxInstances: 6, concurrency: 80 },
  worker: { cpu: 1, memoryMiB: 1024, minInstances: 1, maxInstances: 2 },
  functions: { cpu: 1, memoryMiB: 512, minInstances: 1, maxInstances: 6, concurrency: 40 },
  spotPercentage: 50,
  database: {
    gcpTier: 'db-custom-1-3840',
    awsInstanceClass: 'db.t4g.small',
    storageGb: 20,
    maxStorageGb: 100,
    highAvailability: false,
    backupRetentionDays: 14,
    deletionProtection: false,
    maxConnections: 200,
    poolMax: 10,
  },
  redis: { enabled: true, gcpMemoryGb: 1, awsNodeType: 'cache.t4g.micro', replicas: 0 },
  storage: { mediaNoncurrentDays: 14, backupColdAfterDays: 30, backupExpireDays: 90 },
  budget: { monthlyAmount: 200, thresholds: [0.5, 0.8, 1.0] },
  secretRotationDays: 30,
  logRetentionDays: 30,
  backupKeep: 14,
  // Staging rehearses what prod does, the region failure included.
  backupCopy: true,
};

const prod: EnvironmentSettings = {
  name: 'prod',
  appEnv: 'production',
  logLevel: 'info',
  web: { cpu: 2, memoryMiB: 2048, minInstances: 3, maxInstances: 15, concurrency: 80 },
  worker: { cpu: 2, memoryMiB: 4096, minInstances: 2, maxInstances: 4 },
  functions: { cpu: 1, memoryMiB: 1024, minInstances: 1, maxInstances: 10, concurrency: 40 },
  spotPercentage: 0,
  database: {
    gcpTier: 'db-custom-2-8192',
    awsInstanceClass: 'db.m7g.large',
    storageGb: 100,
    maxStorageGb: 500,
    highAvailability: true,
    backupRetentionDays: 30,
    deletionProtection: true,
    maxConnections: 400,
    poolMax: 10,
  },
  redis: { enabled: true, gcpMemoryGb: 2, awsNodeType: 'cache.t4g.small', replicas: 1 },
  storage: { mediaNoncurrentDays: 30, backupColdAfterDays: 30, backupExpireDays: 365 },
  budget: { monthlyAmount: 600, thresholds: [0.5, 0.8, 1.0] },
  secretRotationDays: 30,
  logRetentionDays: 90,
  backupKeep: 30,
  backupCopy: true,
};

export const ENVIRONMENTS: Readonly<Record<StackName, EnvironmentSettings>> = { dev, staging, prod };

export function isStackName(value: string): value is StackName {
  return (STACKS as readonly string[]).includes(value);
}

/** The settings of a stack, by name; a clear error for a stack this project does not define. */
export function settingsFor(stack: string): EnvironmentSettings {
  if (!isStackName(stack)) {
    throw new Error(`unknown stack "${stack}": expected one of ${STACKS.join(', ')}`);
  }
  return structuredClone(ENVIRONMENTS[stack]);
}

/** What every program needs besides the settings: where to deploy, which image, who to alert. */
export interface DeployInputs {
  settings: EnvironmentSettings;
  /** Prefix of every resource name, e.g. "epu-prod". */
  prefix: string;
  region: string;
  /** Where backups are copied (`epu:backupCopyRegion`), when the settings ask for a copy; never `region`. */
  backupCopyRegion?: string;
  /** The one EPU image; every process runs it with a different command. */
  image: string;
  alertEmails: string[];
  /** Public hostname of the web (PUBLIC_URL); unset uses the platform's generated URL. */
  webDomain?: string;
  /** Hostname for the media CDN; unset uses the CDN's generated address. */
  cdnDomain?: string;
  /** Optional secrets (config secrets), stored in the secret manager when given. */
  sentryDsn?: import('@pulumi/pulumi').Input<string>;
  smtpUrl?: import('@pulumi/pulumi').Input<string>;
  otlpEndpoint?: string;
  budgetCurrency: string;
  gcp?: { project: string; billingAccount: string; zone?: string };
  aws?: { availabilityZones: string[]; certificateArn?: string; vpcCidr: string };
}

/** The second region backups are copied to, or null when the stack keeps them in one region. */
export function backupCopyRegion(inputs: DeployInputs): string | null {
  if (!inputs.settings.backupCopy) return null;
  const region = inputs.backupCopyRegion;
  if (!region)
    throw new Error(`epu:backupCopyRegion is required on the ${inputs.settings.name} stack: its backups are copied to a second region`);
  if (region === inputs.region) throw new Error(`epu:backupCopyRegion must be another region than epu:region (both are ${region})`);
  return region;
}
