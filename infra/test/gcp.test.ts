import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ENVIRONMENTS, STACKS } from '../src/environments';
import { deployGcp } from '../src/gcp';
import { deployUnderMocks, inputsFor, one, ofType, plain, type Recorded } from './support';

const SECRET_ENV = [
  'DATABASE_URL',
  'SECRET_KEY',
  'FUNCTIONS_TOKEN',
  'SENTRY_DSN',
  'SMTP_URL',
  'REDIS_URL',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
];
const IAM_TYPES = /IAMMember|IamMember|IAMBinding|IamBinding|IAMPolicy|IamPolicy/;

for (const stack of STACKS) {
  const settings = ENVIRONMENTS[stack];
  describe(`gcp ${stack}`, () => {
    let r: Recorded[];
    before(async () => {
      r = await deployUnderMocks(stack, () => deployGcp(inputsFor(stack, 'gcp')));
    });

    it('gives the database no public address, only the private network', () => {
      const db = one(r, 'gcp:sql/databaseInstance:DatabaseInstance');
      assert.equal(db.inputs.settings.ipConfiguration.ipv4Enabled, false);
      assert.ok(db.inputs.settings.ipConfiguration.privateNetwork, 'private network set');
      assert.deepEqual(db.inputs.settings.ipConfiguration.authorizedNetworks ?? [], []);
    });

    it('requires TLS on every database connection', () => {
      const db = one(r, 'gcp:sql/databaseInstance:DatabaseInstance');
      assert.equal(db.inputs.settings.ipConfiguration.sslMode, 'ENCRYPTED_ONLY');
      const url = plain(one(r, 'gcp:secretmanager/secretVersion:SecretVersion', `epu-${stack}-database-url`).inputs.secretData);
      assert.match(String(url), /sslmode=require/);
    });

    it("turns on automatic backups and point-in-time recovery with the environment's retention", () => {
      const backup = one(r, 'gcp:sql/databaseInstance:DatabaseInstance').inputs.settings.backupConfiguration;
      assert.equal(backup.enabled, true);
      assert.equal(backup.pointInTimeRecoveryEnabled, true);
      assert.equal(backup.backupRetentionSettings.retainedBackups, settings.database.backupRetentionDays);
      assert.ok(backup.transactionLogRetentionDays >= 1);
    });

    it(`${stack === 'prod' ? 'protects' : 'does not protect'} the database from deletion and ${stack === 'prod' ? 'runs' : 'does not run'} a standby`, () => {
      const db = one(r, 'gcp:sql/databaseInstance:DatabaseInstance');
      const prod = stack === 'prod';
      assert.equal(db.inputs.deletionProtection, prod);
      assert.equal(db.inputs.settings.deletionProtectionEnabled, prod);
      assert.equal(db.inputs.settings.availabilityType, prod ? 'REGIONAL' : 'ZONAL');
    });

    it('keeps every bucket private, uniform, versioned and with lifecycle rules', () => {
      const buckets = ofType(r, 'gcp:storage/bucket:Bucket');
      assert.equal(buckets.length, settings.backupCopy ? 3 : 2);
      for (const b of buckets) {
        assert.equal(b.inputs.publicAccessPrevention, 'enforced', `${b.name} public access prevention`);
        assert.equal(b.inputs.uniformBucketLevelAccess, true, `${b.name} uniform access`);
        assert.equal(b.inputs.versioning.enabled, true, `${b.name} versioning`);
        assert.ok(b.inputs.lifecycleRules.length > 0, `${b.name} lifecycle`);
      }
      const backups = one(r, 'gcp:storage/bucket:Bucket', `epu-${stack}-backups`);
      const actions = backups.inputs.lifecycleRules.map((rule: any) => rule.action.type);
      assert.ok(actions.includes('SetStorageClass') && actions.includes('Delete'), 'backups go cold, then expire');
    });

    it('grants nothing to allUsers or allAuthenticatedUsers, and no basic or admin roles', () => {
      const bindings = r.filter((x) => IAM_TYPES.test(x.type));
      assert.ok(bindings.length > 10);
      for (const b of bindings) {
        const members: string[] = [b.inputs.member, ...(b.inputs.members ?? [])].filter(Boolean);
        for (const m of members) assert.ok(!/^(allUsers|allAuthenticatedUsers)$/.test(m), `${b.name} grants ${m}`);
        if (b.inputs.role) {
          assert.ok(!['roles/owner', 'roles/editor', 'roles/viewer'].includes(b.inputs.role), `${b.name} basic role ${b.inputs.role}`);
          assert.ok(!/admin$/i.test(b.inputs.role), `${b.name} admin role ${b.inputs.role}`);
          assert.ok(!b.inputs.role.includes('*'), `${b.name} wildcard role`);
        }
      }
      const projectLevel = ofType(r, 'gcp:projects/iAMMember:IAMMember')
        .map((b) => b.inputs.role)
        .sort();
      assert.deepEqual(projectLevel, ['roles/eventarc.eventReceiver', 'roles/pubsub.publisher']);
    });

    it('serves media publicly only through the CDN, which reads derived images with its own signed identity', () => {
      const backend = one(r, 'gcp:compute/backendService:BackendService');
      assert.equal(backend.inputs.enableCdn, true);
      assert.ok(backend.inputs.securitySettings.awsV4Authentication.accessKeyId, 'private origin authentication');
      const cdnRead = ofType(r, 'gcp:storage/bucketIAMMember:BucketIAMMember').filter((b) => b.inputs.member.includes('-cdn@'));
      assert.equal(cdnRead.length, 1);
      assert.equal(cdnRead[0]!.inputs.role, 'roles/storage.objectViewer');
      assert.match(cdnRead[0]!.inputs.condition.expression, /objects\/derived\//);
    });

    it('lets only the worker and migrate identities use the backups bucket, and not web or functions', () => {
      const sa = (c: string) => `serviceAccount:epu-${stack}-${c}@epu-test.iam.gserviceaccount.com`;
      const grants = ofType(r, 'gcp:storage/bucketIAMMember:BucketIAMMember');
      const onBackups = grants.filter((b) => b.inputs.bucket === `epu-test-epu-${stack}-backups`);
      assert.deepEqual(onBackups.map((b) => b.inputs.member).sort(), [sa('migrate'), sa('worker')]);
      for (const b of onBackups) {
        // objectUser: create, read, list and delete objects (BACKUP_KEEP pruning), nothing on the bucket's IAM.
        assert.equal(b.inputs.role, 'roles/storage.objectUser', b.name);
        assert.equal(b.inputs.condition, undefined, b.name);
      }
      const byMember = (m: string) => grants.filter((b) => b.inputs.member === m).map((b) => b.inputs.bucket);
      assert.deepEqual(byMember(sa('web')), [`epu-test-epu-${stack}-media`], 'web: media only');
      assert.deepEqual(byMember(sa('functions')), [`epu-test-epu-${stack}-media`], 'functions: media only');
      assert.deepEqual(byMember(sa('migrate')), [`epu-test-epu-${stack}-backups`], 'migrate: backups only, no media');
      const copy = settings.backupCopy ? [`epu-test-epu-${stack}-backup-copy`] : [];
      assert.deepEqual(byMember(sa('worker')).sort(), [...copy, `epu-test-epu-${stack}-backups`, `epu-test-epu-${stack}-media`].sort());
      // No project-level or other storage grant reaches the buckets some other way.
      assert.ok(
        !r.some((x) => /storage\/bucketIAM(Binding|Policy)|projects\/iAMMember/.test(x.type) && /storage/.test(x.inputs.role ?? '')),
      );
    });

    it(`${settings.backupCopy ? 'copies backups to a bucket in a second region that only the worker may use' : 'keeps backups in one region'}`, () => {
      const name = `epu-test-epu-${stack}-backup-copy`;
      const envOf = (c: any) => Object.fromEntries(c.envs.map((e: any) => [e.name, e.value]));
      const worker = envOf(one(r, 'gcp:cloudrunv2/workerPool:WorkerPool').inputs.template.containers[0]);
      const others = [
        ...ofType(r, 'gcp:cloudrunv2/service:Service').map((x) => envOf(x.inputs.template.containers[0])),
        envOf(one(r, 'gcp:cloudrunv2/job:Job').inputs.template.template.containers[0]),
      ];
      for (const env of others) assert.equal(env.BACKUP_COPY_URL, undefined, 'only the worker copies backups');
      const grants = ofType(r, 'gcp:storage/bucketIAMMember:BucketIAMMember').filter((b) => b.inputs.bucket === name);
      if (!settings.backupCopy) {
        assert.equal(r.filter((x) => x.type === 'gcp:storage/bucket:Bucket' && x.inputs.name === name).length, 0);
        assert.equal(worker.BACKUP_COPY_URL, undefined);
        assert.deepEqual(grants, []);
        return;
      }
      const copy = one(r, 'gcp:storage/bucket:Bucket', `epu-${stack}-backup-copy`);
      assert.equal(copy.inputs.location, 'europe-west1');
      assert.notEqual(copy.inputs.location, one(r, 'gcp:storage/bucket:Bucket', `epu-${stack}-backups`).inputs.location);
      assert.equal(copy.inputs.publicAccessPrevention, 'enforced');
      assert.ok(
        copy.inputs.lifecycleRules.some(
          (rule: any) => rule.action.type === 'Delete' && rule.condition.age === settings.storage.backupExpireDays,
        ),
      );
      assert.deepEqual(
        grants.map((b) => [b.inputs.member, b.inputs.role]),
        [[`serviceAccount:epu-${stack}-worker@epu-test.iam.gserviceaccount.com`, 'roles/storage.objectUser']],
      );
      assert.equal(worker.BACKUP_COPY_URL, `s3://${name}`);
    });

    it('gives the migrate job and the worker what `epu backup` needs: SECRET_KEY, the backups bucket and their own HMAC key', () => {
      const envOf = (c: any) => Object.fromEntries(c.envs.map((e: any) => [e.name, e]));
      const job = envOf(one(r, 'gcp:cloudrunv2/job:Job').inputs.template.template.containers[0]);
      const worker = envOf(one(r, 'gcp:cloudrunv2/workerPool:WorkerPool').inputs.template.containers[0]);
      for (const [component, env] of [
        ['migrate', job],
        ['worker', worker],
      ] as const) {
        assert.equal(env.BACKUP_STORAGE_URL?.value, `s3://epu-test-epu-${stack}-backups`, `${component} BACKUP_STORAGE_URL`);
        assert.equal(env.BACKUP_KEEP?.value, String(settings.backupKeep), `${component} BACKUP_KEEP`);
        assert.equal(env.S3_ENDPOINT?.value, 'https://storage.googleapis.com', `${component} S3_ENDPOINT`);
        assert.equal(env.S3_REGION?.value, 'auto', `${component} S3_REGION`);
        assert.equal(env.S3_FORCE_PATH_STYLE?.value, 'true', `${component} S3_FORCE_PATH_STYLE`);
        assert.equal(env.SECRET_KEY?.valueSource.secretKeyRef.secret, `epu-${stack}-secret-key`, `${component} SECRET_KEY`);
        assert.equal(
          env.AWS_ACCESS_KEY_ID?.valueSource.secretKeyRef.secret,
          `epu-${stack}-s3-access-key-id-${component}`,
          `${component} own HMAC key`,
        );
        assert.equal(
          env.AWS_SECRET_ACCESS_KEY?.valueSource.secretKeyRef.secret,
          `epu-${stack}-s3-secret-access-key-${component}`,
          `${component} own HMAC secret`,
        );
      }
      assert.equal(job.STORAGE_URL, undefined, 'migrate gets no media bucket');
      const hmac = one(r, 'gcp:storage/hmacKey:HmacKey', `epu-${stack}-hmac-migrate`);
      assert.equal(hmac.inputs.serviceAccountEmail, `epu-${stack}-migrate@epu-test.iam.gserviceaccount.com`);
      const readers = ofType(r, 'gcp:secretmanager/secretIamMember:SecretIamMember').filter((b) =>
        b.name.startsWith(`epu-${stack}-secret-key-`),
      );
      assert.deepEqual(readers.map((b) => b.name.replace(`epu-${stack}-secret-key-`, '')).sort(), [
        'functions',
        'migrate',
        'web',
        'worker',
      ]);
      for (const name of ['web', 'functions']) {
        const env = envOf(one(r, 'gcp:cloudrunv2/service:Service', `epu-${stack}-${name}`).inputs.template.containers[0]);
        assert.equal(env.BACKUP_STORAGE_URL, undefined, `${name} has no BACKUP_STORAGE_URL`);
      }
    });

    it('leaves the image (and the web traffic split) to CI after creation, so `pulumi up` does not roll a release back', () => {
      assert.deepEqual(one(r, 'gcp:cloudrunv2/service:Service', `epu-${stack}-web`).ignoreChanges.sort(), [
        'template.containers[0].image',
        'traffics',
      ]);
      assert.deepEqual(one(r, 'gcp:cloudrunv2/service:Service', `epu-${stack}-functions`).ignoreChanges, ['template.containers[0].image']);
      assert.deepEqual(one(r, 'gcp:cloudrunv2/workerPool:WorkerPool').ignoreChanges, ['template.containers[0].image']);
      assert.deepEqual(one(r, 'gcp:cloudrunv2/job:Job').ignoreChanges, ['template.template.containers[0].image']);
      // The first image still comes from epu:image.
      assert.equal(one(r, 'gcp:cloudrunv2/job:Job').inputs.template.template.containers[0].image, 'registry.example/epu:test');
    });

    it('runs each component as its own service account', () => {
      const web = one(r, 'gcp:cloudrunv2/service:Service', `epu-${stack}-web`);
      const functions = one(r, 'gcp:cloudrunv2/service:Service', `epu-${stack}-functions`);
      const worker = one(r, 'gcp:cloudrunv2/workerPool:WorkerPool');
      const migrate = one(r, 'gcp:cloudrunv2/job:Job');
      const accounts = [
        web.inputs.template.serviceAccount,
        functions.inputs.template.serviceAccount,
        worker.inputs.template.serviceAccount,
        migrate.inputs.template.template.serviceAccount,
      ];
      assert.equal(new Set(accounts).size, 4, 'four distinct identities');
      for (const [component, account] of [
        ['web', accounts[0]],
        ['functions', accounts[1]],
        ['worker', accounts[2]],
        ['migrate', accounts[3]],
      ]) {
        assert.equal(account, `epu-${stack}-${component}@epu-test.iam.gserviceaccount.com`);
      }
    });

    it('passes credentials only from Secret Manager, and each secret only to its readers', () => {
      const containers = [
        ...ofType(r, 'gcp:cloudrunv2/service:Service').map((s) => s.inputs.template.containers[0]),
        one(r, 'gcp:cloudrunv2/workerPool:WorkerPool').inputs.template.containers[0],
        one(r, 'gcp:cloudrunv2/job:Job').inputs.template.template.containers[0],
      ];
      for (const c of containers) {
        for (const env of c.envs) {
          if (SECRET_ENV.includes(env.name))
            assert.ok(env.valueSource?.secretKeyRef && env.value === undefined, `${c.args[0]} ${env.name} from a secret`);
        }
        assert.ok(
          c.envs.some((e: any) => e.name === 'DATABASE_URL'),
          `${c.args[0]} has DATABASE_URL`,
        );
      }
      const migrateEnv = one(r, 'gcp:cloudrunv2/job:Job').inputs.template.template.containers[0].envs.map((e: any) => e.name);
      assert.ok(
        !migrateEnv.includes('FUNCTIONS_TOKEN') && !migrateEnv.includes('REDIS_URL') && !migrateEnv.includes('SMTP_URL'),
        'migrate gets only what migrate and backup need',
      );
      const readers = ofType(r, 'gcp:secretmanager/secretIamMember:SecretIamMember');
      assert.ok(readers.every((b) => b.inputs.role === 'roles/secretmanager.secretAccessor'));
    });

    it("lets the functions host verify Eventarc's Google identity token: its audience is the service's URL, its caller the events account", () => {
      const functions = one(r, 'gcp:cloudrunv2/service:Service', `epu-${stack}-functions`);
      const env = Object.fromEntries(functions.inputs.template.containers[0].envs.map((e: any) => [e.name, e.value]));
      const trigger = one(r, 'gcp:eventarc/trigger:Trigger', `epu-${stack}-photo-uploaded`);
      assert.equal(trigger.inputs.destination.cloudRunService.path, '/photoUploaded');
      assert.equal(env.FUNCTIONS_GOOGLE_CALLERS, trigger.inputs.serviceAccount);
      assert.equal(env.FUNCTIONS_GOOGLE_CALLERS, `epu-${stack}-events@epu-test.iam.gserviceaccount.com`);
      // The deterministic run.app URL, the audience Eventarc puts in the token for a Cloud Run destination.
      assert.match(env.FUNCTIONS_GOOGLE_AUDIENCE, new RegExp(`^https://epu-${stack}-functions-\\d+\\.europe-west\\d\\.run\\.app$`));
      // No other service takes Google identities.
      for (const service of ofType(r, 'gcp:cloudrunv2/service:Service').filter((s) => s !== functions))
        assert.ok(!service.inputs.template.containers[0].envs.some((e: any) => e.name.startsWith('FUNCTIONS_GOOGLE_')));
    });

    it('probes web and functions on their own health: /healthz to start, /livez to stay alive, on their own port', () => {
      for (const [name, port] of [
        ['web', 3000],
        ['functions', 8081],
      ] as const) {
        const container = one(r, 'gcp:cloudrunv2/service:Service', `epu-${stack}-${name}`).inputs.template.containers[0];
        assert.equal(container.ports.containerPort, port, name);
        assert.deepEqual(container.startupProbe.httpGet, { path: '/healthz', port }, name);
        assert.deepEqual(container.livenessProbe.httpGet, { path: '/livez', port }, name);
      }
    });

    it('probes the worker on its own health on METRICS_PORT: /healthz (heartbeat, database) to start, /livez to stay alive', () => {
      const container = one(r, 'gcp:cloudrunv2/workerPool:WorkerPool').inputs.template.containers[0];
      // A worker pool serves no traffic: its health is on the operations port, as for the image's
      // HEALTHCHECK (bin/healthcheck.js), the compose file and the Kubernetes probes (deploy/k8s/base/worker.yaml).
      assert.equal(container.ports, undefined);
      assert.ok(container.envs.some((e: any) => e.name === 'METRICS_PORT' && e.value === '9464'));
      assert.deepEqual(container.startupProbe.httpGet, { path: '/healthz', port: 9464 });
      assert.deepEqual(container.livenessProbe.httpGet, { path: '/livez', port: 9464 });
      assert.ok(container.livenessProbe.failureThreshold >= 3, 'one slow answer does not restart it');
    });

    it('exposes the web publicly without an IAM grant and keeps functions internal', () => {
      const web = one(r, 'gcp:cloudrunv2/service:Service', `epu-${stack}-web`);
      const functions = one(r, 'gcp:cloudrunv2/service:Service', `epu-${stack}-functions`);
      assert.equal(web.inputs.ingress, 'INGRESS_TRAFFIC_ALL');
      assert.equal(functions.inputs.ingress, 'INGRESS_TRAFFIC_INTERNAL_ONLY');
      assert.equal(web.inputs.template.containers[0].ports.containerPort, 3000, 'metrics port is not exposed');
      assert.equal(web.inputs.template.vpcAccess.connector !== undefined, true, 'through the VPC connector');
    });

    it('scales as the environment says', () => {
      const web = one(r, 'gcp:cloudrunv2/service:Service', `epu-${stack}-web`);
      assert.equal(web.inputs.template.scaling.minInstanceCount, settings.web.minInstances);
      assert.equal(web.inputs.template.scaling.maxInstanceCount, settings.web.maxInstances);
      if (stack === 'dev') assert.equal(settings.web.minInstances, 0, 'dev scales to zero');
      if (stack === 'prod') assert.ok(settings.web.minInstances >= 2, 'prod keeps warm instances');
    });

    it('alerts on p95 latency above 1s and 5xx above 2% for 5 minutes, DB load and bucket errors', () => {
      const policies = ofType(r, 'gcp:monitoring/alertPolicy:AlertPolicy');
      const latency = policies.find((p) => p.name === `epu-${stack}-latency`)!.inputs.conditions[0].conditionThreshold;
      assert.equal(latency.thresholdValue, 1000);
      assert.equal(latency.duration, '300s');
      assert.equal(latency.aggregations[0].perSeriesAligner, 'ALIGN_PERCENTILE_95');
      const errors = policies.find((p) => p.name === `epu-${stack}-errors`)!.inputs.conditions[0].conditionPrometheusQueryLanguage;
      assert.match(errors.query, /5xx/);
      assert.match(errors.query, /> 0\.02$/);
      assert.equal(errors.duration, '300s');
      const cpu = policies.find((p) => p.name === `epu-${stack}-db-cpu`)!.inputs.conditions[0].conditionThreshold;
      assert.equal(cpu.thresholdValue, 0.8);
      assert.ok(policies.some((p) => p.name === `epu-${stack}-db-connections`));
      assert.ok(policies.some((p) => p.name === `epu-${stack}-bucket-errors`));
      assert.ok(
        policies.every((p) => p.inputs.notificationChannels.length > 0),
        'every alert notifies someone',
      );
      const uptime = one(r, 'gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig');
      assert.equal(uptime.inputs.httpCheck.path, '/healthz');
    });

    it('sets a budget with alert thresholds', () => {
      const budget = one(r, 'gcp:billing/budget:Budget');
      assert.equal(budget.inputs.amount.specifiedAmount.units, String(settings.budget.monthlyAmount));
      const thresholds = budget.inputs.thresholdRules.map((t: any) => t.thresholdPercent);
      for (const t of [0.5, 0.8, 1.0]) assert.ok(thresholds.includes(t), `threshold ${t}`);
      assert.ok(budget.inputs.thresholdRules.some((t: any) => t.spendBasis === 'FORECASTED_SPEND'));
    });
  });
}
