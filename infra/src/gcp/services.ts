import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs } from '../environments';
import { member, type Component, type GcpIdentities } from './identities';
import type { GcpNetwork } from './network';
import { secretEnv, type GcpSecrets } from './secrets';
import type { GcpStorage } from './storage';

export interface GcpServices {
  web: gcp.cloudrunv2.Service;
  worker: gcp.cloudrunv2.WorkerPool;
  functions: gcp.cloudrunv2.Service;
  migrate: gcp.cloudrunv2.Job;
  photoUploaded: gcp.eventarc.Trigger;
  publicUrl: pulumi.Output<string>;
}

export const WEB_PORT = 3000;
export const FUNCTIONS_PORT = 8081;
export const METRICS_PORT = 9464;

/**
 * The one image, run four ways. Web is public (no IAM check: it is a website);
 * functions accept traffic only from inside the project (ingress internal, the
 * VPC connector carries web and worker traffic to it) and check FUNCTIONS_TOKEN,
 * or, for storage events from Eventarc, the Google-signed identity token Eventarc
 * attaches (FUNCTIONS_GOOGLE_AUDIENCE, FUNCTIONS_GOOGLE_CALLERS);
 * the worker is a worker pool with no traffic port (probed on METRICS_PORT); migrate is a job CI runs
 * before each rollout.
 */
export function createServices(
  inputs: DeployInputs,
  ids: GcpIdentities,
  net: GcpNetwork,
  storage: GcpStorage,
  secrets: GcpSecrets,
  extra: { cdnBaseUrl: pulumi.Input<string>; projectNumber: pulumi.Input<string> },
  opts: pulumi.CustomResourceOptions,
): GcpServices {
  const { prefix, region, settings, image } = inputs;
  const prod = settings.name === 'prod';
  const vpcAccess = { connector: net.connector.id, egress: 'ALL_TRAFFIC' };
  const publicUrl = inputs.webDomain
    ? pulumi.output(`https://${inputs.webDomain}`)
    : pulumi.interpolate`https://${prefix}-web-${extra.projectNumber}.${region}.run.app`;

  // GCS through its S3-compatible (interoperability) endpoint, with the component's own HMAC key.
  const s3Env = { S3_ENDPOINT: 'https://storage.googleapis.com', S3_REGION: 'auto', S3_FORCE_PATH_STYLE: 'true' };
  // Where `epu backup` and the worker's daily backup.create job write (same S3_* settings as STORAGE_URL).
  const backupEnv = { BACKUP_STORAGE_URL: pulumi.interpolate`s3://${storage.backups.name}`, BACKUP_KEEP: String(settings.backupKeep) };
  // Only the worker copies backups to the second region (same S3_* interop settings; its identity alone may reach it).
  const copyEnv: Record<string, pulumi.Input<string>> = storage.backupCopy
    ? { BACKUP_COPY_URL: pulumi.interpolate`s3://${storage.backupCopy.name}` }
    : {};
  const plainEnv = (component: Component, more: Record<string, pulumi.Input<string>> = {}) => {
    const env: Record<string, pulumi.Input<string>> = {
      APP_ENV: settings.appEnv,
      LOG_LEVEL: settings.logLevel,
      PUBLIC_URL: publicUrl,
      STORAGE_URL: pulumi.interpolate`s3://${storage.media.name}`,
      ...s3Env,
      CDN_BASE_URL: extra.cdnBaseUrl,
      DATABASE_POOL_MAX: String(settings.database.poolMax),
      METRICS_PORT: String(METRICS_PORT),
      ...(inputs.otlpEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: inputs.otlpEndpoint } : {}),
      ...more,
    };
    return [...Object.entries(env).map(([name, value]) => ({ name, value })), ...secretEnv(secrets, component)];
  };
  const resources = (size: { cpu: number; memoryMiB: number }, cpuIdle: boolean) => ({
    limits: { cpu: String(size.cpu), memory: `${size.memoryMiB}Mi` },
    cpuIdle,
    startupCpuBoost: true,
  });
  const labels = { app: 'epu', env: settings.name };
  // CI (.github/workflows/deploy.yml) rolls each release out with `gcloud ... update --image`, so the
  // image belongs to CI once a resource exists: epu:image only names the first one. Without this, the
  // next `pulumi up` would put the stack's stale epu:image back (a silent rollback). Pulumi keeps the
  // image from its state, so run `pulumi up --refresh` to pick up what CI deployed (infra/README.md).
  const ciOwns = (...paths: string[]): pulumi.CustomResourceOptions => ({ ...opts, ignoreChanges: paths });

  const functions = new gcp.cloudrunv2.Service(
    `${prefix}-functions`,
    {
      name: `${prefix}-functions`,
      location: region,
      ingress: 'INGRESS_TRAFFIC_INTERNAL_ONLY',
      invokerIamDisabled: true,
      deletionProtection: prod,
      labels,
      template: {
        serviceAccount: ids.functions.email,
        scaling: { minInstanceCount: settings.functions.minInstances, maxInstanceCount: settings.functions.maxInstances },
        maxInstanceRequestConcurrency: settings.functions.concurrency,
        timeout: '300s',
        vpcAccess,
        containers: [
          {
            image,
            commands: ['epu'],
            args: ['functions'],
            ports: { containerPort: FUNCTIONS_PORT },
            envs: plainEnv('functions', {
              FUNCTIONS_PORT: String(FUNCTIONS_PORT),
              // Eventarc calls /photoUploaded with a Google ID token for the service's URL (the deterministic
              // run.app one; the service cannot name its own `uri` output), as the events service account.
              FUNCTIONS_GOOGLE_AUDIENCE: pulumi.interpolate`https://${prefix}-functions-${extra.projectNumber}.${region}.run.app`,
              FUNCTIONS_GOOGLE_CALLERS: ids.events.email,
            }),
            resources: resources(settings.functions, true),
            // Its own health, as the web's: the listener's /healthz (database) to start, /livez to stay alive
            // (the same endpoints as the image's HEALTHCHECK and the Kubernetes probes).
            startupProbe: { httpGet: { path: '/healthz', port: FUNCTIONS_PORT }, periodSeconds: 5, failureThreshold: 24 },
            livenessProbe: { httpGet: { path: '/livez', port: FUNCTIONS_PORT }, periodSeconds: 15, failureThreshold: 3 },
          },
        ],
      },
    },
    ciOwns('template.containers[0].image'),
  );

  const functionsUrl = functions.uri;

  const web = new gcp.cloudrunv2.Service(
    `${prefix}-web`,
    {
      name: `${prefix}-web`,
      location: region,
      ingress: 'INGRESS_TRAFFIC_ALL',
      // A public website: no IAM check on invocation, and no allUsers binding either.
      invokerIamDisabled: true,
      deletionProtection: prod,
      labels,
      template: {
        serviceAccount: ids.web.email,
        scaling: { minInstanceCount: settings.web.minInstances, maxInstanceCount: settings.web.maxInstances },
        maxInstanceRequestConcurrency: settings.web.concurrency,
        timeout: '120s',
        vpcAccess,
        containers: [
          {
            image,
            commands: ['epu'],
            args: ['web'],
            ports: { containerPort: WEB_PORT },
            envs: plainEnv('web', { FUNCTIONS_URL: functionsUrl, TRUST_PROXY_HOPS: '1', MAX_UPLOAD_BYTES: String(25 * 1024 * 1024) }),
            resources: resources(settings.web, true),
            startupProbe: { httpGet: { path: '/healthz', port: WEB_PORT }, periodSeconds: 5, failureThreshold: 24 },
            livenessProbe: { httpGet: { path: '/livez', port: WEB_PORT }, periodSeconds: 15, failureThreshold: 3 },
          },
        ],
      },
      // In prod CI also owns the traffic split (canary tag, 10% → 50% → 100%, rollback).
    },
    ciOwns('template.containers[0].image', 'traffics'),
  );

  const worker = new gcp.cloudrunv2.WorkerPool(
    `${prefix}-worker`,
    {
      name: `${prefix}-worker`,
      location: region,
      launchStage: 'BETA',
      deletionProtection: prod,
      labels,
      scaling: { scalingMode: 'MANUAL', manualInstanceCount: settings.worker.minInstances },
      template: {
        serviceAccount: ids.worker.email,
        vpcAccess,
        containers: [
          {
            image,
            commands: ['epu'],
            args: ['worker'],
            // The worker runs the daily backup.create job: backups go to the backups bucket, not under media.
            envs: plainEnv('worker', { FUNCTIONS_URL: functionsUrl, ...backupEnv, ...copyEnv }),
            resources: { limits: { cpu: String(settings.worker.cpu), memory: `${settings.worker.memoryMiB}Mi` } },
            // No port serves traffic: its own health is on METRICS_PORT, as for the image's HEALTHCHECK
            // (bin/healthcheck.js), the compose file and the Kubernetes probes. /healthz (heartbeat, queue,
            // database) to start, so a revision whose worker cannot work never replaces the running one;
            // /livez to stay alive, so a database outage does not restart it.
            startupProbe: { httpGet: { path: '/healthz', port: METRICS_PORT }, periodSeconds: 5, failureThreshold: 24 },
            livenessProbe: { httpGet: { path: '/livez', port: METRICS_PORT }, periodSeconds: 15, failureThreshold: 3 },
          },
        ],
      },
    },
    ciOwns('template.containers[0].image'),
  );

  const migrate = new gcp.cloudrunv2.Job(
    `${prefix}-migrate`,
    {
      name: `${prefix}-migrate`,
      location: region,
      deletionProtection: prod,
      labels,
      template: {
        taskCount: 1,
        parallelism: 1,
        template: {
          serviceAccount: ids.migrate.email,
          maxRetries: 0,
          timeout: '900s',
          vpcAccess,
          containers: [
            {
              image,
              commands: ['epu'],
              args: ['migrate'],
              // `epu migrate` needs only the database. The same job also runs the production pre-deploy
              // snapshot (`gcloud run jobs execute ... --args backup`), and `epu backup` needs SECRET_KEY and
              // somewhere durable to write: the backups bucket, with migrate's own HMAC key. No STORAGE_URL,
              // so the job has no access to media (file storage on the container's disk is never written).
              envs: [
                { name: 'APP_ENV', value: settings.appEnv },
                { name: 'LOG_LEVEL', value: settings.logLevel },
                { name: 'PUBLIC_URL', value: publicUrl },
                ...Object.entries({ ...s3Env, ...backupEnv }).map(([name, value]) => ({ name, value })),
                ...secretEnv(secrets, 'migrate'),
              ],
              resources: { limits: { cpu: '1', memory: '512Mi' } },
            },
          ],
        },
      },
    },
    ciOwns('template.template.containers[0].image'),
  );

  // Storage events reach the photoUploaded handler through Eventarc, as the events identity.
  const gcsAgent = gcp.storage.getProjectServiceAccountOutput({ project: inputs.gcp!.project }, opts);
  const publisher = new gcp.projects.IAMMember(
    `${prefix}-gcs-publishes-events`,
    {
      project: inputs.gcp!.project,
      role: 'roles/pubsub.publisher',
      member: pulumi.interpolate`serviceAccount:${gcsAgent.emailAddress}`,
    },
    opts,
  );
  const receiver = new gcp.projects.IAMMember(
    `${prefix}-events-receiver`,
    {
      project: inputs.gcp!.project,
      role: 'roles/eventarc.eventReceiver',
      member: member(ids.events),
    },
    opts,
  );
  const photoUploaded = new gcp.eventarc.Trigger(
    `${prefix}-photo-uploaded`,
    {
      name: `${prefix}-photo-uploaded`,
      location: region,
      matchingCriterias: [
        { attribute: 'type', value: 'google.cloud.storage.object.v1.finalized' },
        { attribute: 'bucket', value: storage.media.name },
      ],
      destination: { cloudRunService: { service: functions.name, region, path: '/photoUploaded' } },
      serviceAccount: ids.events.email,
      labels,
    },
    { ...opts, dependsOn: [publisher, receiver] },
  );

  // What each process may do with the buckets. Object-level roles only: no one may change bucket IAM.
  const bucketRole = (name: string, bucket: gcp.storage.Bucket, role: string, who: Component) =>
    new gcp.storage.BucketIAMMember(`${prefix}-${name}`, { bucket: bucket.name, role, member: member(ids[who]) }, opts);
  bucketRole('web-media', storage.media, 'roles/storage.objectUser', 'web');
  bucketRole('worker-media', storage.media, 'roles/storage.objectUser', 'worker');
  bucketRole('functions-media', storage.media, 'roles/storage.objectUser', 'functions');
  // Backups: objectUser = create, read, list and delete objects (delete for BACKUP_KEEP pruning), on this bucket only.
  // The worker takes the daily backup; migrate takes the pre-deploy one (CI runs `epu backup` as that job).
  // Web and functions get nothing here.
  bucketRole('worker-backups', storage.backups, 'roles/storage.objectUser', 'worker');
  bucketRole('migrate-backups', storage.backups, 'roles/storage.objectUser', 'migrate');
  // The copy in the second region: the worker's backup.copy job writes and prunes it; no one else.
  if (storage.backupCopy) bucketRole('worker-backup-copy', storage.backupCopy, 'roles/storage.objectUser', 'worker');

  // CI deploys new revisions as the deployer: it may update these services and act as their identities, nothing else.
  const runDev = (name: string, resource: gcp.cloudrunv2.Service | gcp.cloudrunv2.Job | gcp.cloudrunv2.WorkerPool) => {
    const args = {
      project: inputs.gcp!.project,
      location: region,
      name: resource.name,
      role: 'roles/run.developer',
      member: member(ids.deployer),
    };
    if (resource instanceof gcp.cloudrunv2.Service) return new gcp.cloudrunv2.ServiceIamMember(`${prefix}-deployer-${name}`, args, opts);
    if (resource instanceof gcp.cloudrunv2.Job) return new gcp.cloudrunv2.JobIamMember(`${prefix}-deployer-${name}`, args, opts);
    return new gcp.cloudrunv2.WorkerPoolIamMember(`${prefix}-deployer-${name}`, args, opts);
  };
  runDev('web', web);
  runDev('functions', functions);
  runDev('worker', worker);
  runDev('migrate', migrate);
  for (const component of ['web', 'worker', 'functions', 'migrate'] as const) {
    new gcp.serviceaccount.IAMMember(
      `${prefix}-deployer-actas-${component}`,
      {
        serviceAccountId: ids[component].name,
        role: 'roles/iam.serviceAccountUser',
        member: member(ids.deployer),
      },
      opts,
    );
  }
  // The deployer also runs the migrate job before each rollout.
  new gcp.cloudrunv2.JobIamMember(
    `${prefix}-deployer-runs-migrate`,
    {
      project: inputs.gcp!.project,
      location: region,
      name: migrate.name,
      role: 'roles/run.invoker',
      member: member(ids.deployer),
    },
    opts,
  );

  return { web, worker, functions, migrate, photoUploaded, publicUrl };
}
