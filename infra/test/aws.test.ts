import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { deployAws } from '../src/aws';
import { RESOURCELESS_ACTIONS } from '../src/aws/policy';
import { ENVIRONMENTS, STACKS } from '../src/environments';
import { deployUnderMocks, inputsFor, one, ofType, type Recorded } from './support';

const SECRET_ENV = ['DATABASE_URL', 'SECRET_KEY', 'FUNCTIONS_TOKEN', 'SENTRY_DSN', 'SMTP_URL', 'REDIS_URL'];
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every IAM-style policy document the program writes: role policies, bucket policies, topic policies. */
function policies(r: Recorded[]): { name: string; doc: any }[] {
  return r
    .filter((x) =>
      [
        'aws:iam/rolePolicy:RolePolicy',
        'aws:iam/policy:Policy',
        'aws:s3/bucketPolicy:BucketPolicy',
        'aws:sns/topicPolicy:TopicPolicy',
      ].includes(x.type),
    )
    .map((x) => ({ name: x.name, doc: JSON.parse(x.inputs.policy) }));
}

/**
 * A resource names one thing: a full ARN with no wildcard, except a trailing
 * "/*" or ":*" meaning the objects of one named bucket or the streams of one named log group.
 */
function isNamedResource(arn: string): boolean {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return false;
  const inside = parts
    .slice(5)
    .join(':')
    .replace(/(\/|:)\*$/, '');
  return (
    !parts.slice(0, 5).some((p) => p.includes('*')) &&
    inside.length > 0 &&
    !inside.includes('*') &&
    !/^(log-group|bucket|secret|table)$/.test(inside)
  );
}

for (const stack of STACKS) {
  const settings = ENVIRONMENTS[stack];
  const prod = stack === 'prod';
  describe(`aws ${stack}`, () => {
    let r: Recorded[];
    before(async () => {
      r = await deployUnderMocks(stack, () => deployAws(inputsFor(stack, 'aws')));
    });

    it('keeps the database off the internet: not publicly accessible, reachable only from the tasks', () => {
      const db = one(r, 'aws:rds/instance:Instance');
      assert.equal(db.inputs.publiclyAccessible, false);
      const sg = one(r, 'aws:ec2/securityGroup:SecurityGroup', `epu-${stack}-db`);
      for (const rule of sg.inputs.ingress) {
        assert.deepEqual(rule.cidrBlocks ?? [], [], 'no address ranges, only the app security group');
        assert.equal(rule.securityGroups.length, 1);
      }
      const subnets = one(r, 'aws:rds/subnetGroup:SubnetGroup').inputs.subnetIds as string[];
      assert.ok(subnets.length >= 2 && subnets.every((s) => s.includes('-private-')), 'private subnets only');
    });

    it('forces TLS with rds.force_ssl=1 and encrypts storage', () => {
      const db = one(r, 'aws:rds/instance:Instance');
      assert.equal(db.inputs.storageEncrypted, true);
      const params = one(r, 'aws:rds/parameterGroup:ParameterGroup');
      assert.equal(db.inputs.parameterGroupName, params.inputs.name ?? params.name);
      const forceSsl = params.inputs.parameters.find((p: any) => p.name === 'rds.force_ssl');
      assert.equal(forceSsl?.value, '1');
    });

    it("keeps automated backups (point-in-time recovery) for the environment's retention", () => {
      const db = one(r, 'aws:rds/instance:Instance');
      assert.equal(db.inputs.backupRetentionPeriod, settings.database.backupRetentionDays);
      assert.ok(db.inputs.backupRetentionPeriod >= 7, 'PITR needs retention > 0; we keep at least a week');
    });

    it(`${prod ? 'protects' : 'does not protect'} the database from deletion, ${prod ? 'with' : 'without'} Multi-AZ and a final snapshot`, () => {
      const db = one(r, 'aws:rds/instance:Instance');
      assert.equal(db.inputs.deletionProtection, prod);
      assert.equal(db.inputs.multiAz, prod);
      assert.equal(db.inputs.skipFinalSnapshot, !prod);
    });

    it('blocks every kind of public access on every bucket, encrypts and versions them', () => {
      const buckets = ofType(r, 'aws:s3/bucket:Bucket');
      const kinds = settings.backupCopy ? ['media', 'backups', 'backup-copy'] : ['media', 'backups'];
      assert.equal(buckets.length, kinds.length);
      for (const kind of kinds) {
        const pab = one(r, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', `epu-${stack}-${kind}`);
        for (const flag of ['blockPublicAcls', 'blockPublicPolicy', 'ignorePublicAcls', 'restrictPublicBuckets']) {
          assert.equal(pab.inputs[flag], true, `${kind} ${flag}`);
        }
        const sse = one(
          r,
          'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration',
          `epu-${stack}-${kind}`,
        );
        assert.ok(['AES256', 'aws:kms'].includes(sse.inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm));
        const versioning = one(r, 'aws:s3/bucketVersioning:BucketVersioning', `epu-${stack}-${kind}`);
        assert.equal(versioning.inputs.versioningConfiguration.status, 'Enabled');
        const lifecycle = one(r, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', `epu-${stack}-${kind}`);
        assert.ok(lifecycle.inputs.rules.length > 0);
        const ownership = one(r, 'aws:s3/bucketOwnershipControls:BucketOwnershipControls', `epu-${stack}-${kind}`);
        assert.equal(ownership.inputs.rule.objectOwnership, 'BucketOwnerEnforced', 'ACLs disabled');
      }
      const backupRules = one(r, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', `epu-${stack}-backups`).inputs.rules;
      assert.ok(
        backupRules.some((rule: any) => rule.transitions?.length && rule.expiration?.days),
        'backups go cold, then expire',
      );
    });

    it('lets only CloudFront, through origin access control, read only derived media, only over TLS', () => {
      const oac = one(r, 'aws:cloudfront/originAccessControl:OriginAccessControl');
      assert.equal(oac.inputs.signingBehavior, 'always');
      const cdn = one(r, 'aws:cloudfront/distribution:Distribution');
      assert.ok(cdn.inputs.origins[0].originAccessControlId, 'origin uses OAC');
      assert.equal(cdn.inputs.defaultCacheBehavior.viewerProtocolPolicy, 'redirect-to-https');
      const media = JSON.parse(one(r, 'aws:s3/bucketPolicy:BucketPolicy', `epu-${stack}-media`).inputs.policy);
      const allows = media.Statement.filter((s: any) => s.Effect === 'Allow');
      assert.equal(allows.length, 1);
      assert.deepEqual(allows[0].Principal, { Service: 'cloudfront.amazonaws.com' });
      assert.ok(allows[0].Condition.StringEquals['AWS:SourceArn'].includes(':distribution/'), 'only this distribution');
      assert.ok(
        asList(allows[0].Resource).every((res: string) => res.endsWith('/derived/*')),
        'only derived images',
      );
      for (const kind of ['media', 'backups']) {
        const doc = JSON.parse(one(r, 'aws:s3/bucketPolicy:BucketPolicy', `epu-${stack}-${kind}`).inputs.policy);
        assert.ok(
          doc.Statement.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'),
          `${kind} denies plain HTTP`,
        );
      }
    });

    it('allows no wildcard actions, no wildcard principals and no "*" resources in any policy', () => {
      const docs = policies(r);
      assert.ok(docs.length >= 10);
      for (const { name, doc } of docs) {
        for (const s of doc.Statement.filter((x: any) => x.Effect === 'Allow')) {
          const actions = asList<string>(s.Action);
          for (const a of actions) assert.ok(!a.includes('*'), `${name}: wildcard action ${a}`);
          for (const res of asList<string>(s.Resource)) {
            if (res === '*')
              assert.ok(
                actions.every((a) => RESOURCELESS_ACTIONS.includes(a)),
                `${name}: "*" resource for ${actions.join(', ')}`,
              );
            else assert.ok(isNamedResource(res), `${name}: wildcard resource ${res}`);
          }
          if (s.Principal) {
            assert.notEqual(s.Principal, '*', `${name}: public principal`);
            assert.ok(!asList(s.Principal.AWS).includes('*'), `${name}: any AWS principal`);
          }
          assert.ok(!s.NotAction && !s.NotResource, `${name}: NotAction/NotResource`);
        }
      }
      assert.equal(ofType(r, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment').length, 0, 'no managed (broad) policies attached');
    });

    it('gives each component its own task role and execution role, and each only its own secrets', () => {
      const defs = ofType(r, 'aws:ecs/taskDefinition:TaskDefinition');
      assert.equal(defs.length, 4);
      assert.equal(new Set(defs.map((d) => d.inputs.taskRoleArn)).size, 4);
      assert.equal(new Set(defs.map((d) => d.inputs.executionRoleArn)).size, 4);
      for (const d of defs) {
        const component = d.name.replace(`epu-${stack}-`, '');
        assert.match(d.inputs.taskRoleArn, new RegExp(`epu-${stack}-${component}-task$`));
        const [container] = JSON.parse(d.inputs.containerDefinitions);
        for (const e of container.environment) assert.ok(!SECRET_ENV.includes(e.name), `${component}: ${e.name} in plain environment`);
        assert.ok(
          container.secrets.some((s: any) => s.name === 'DATABASE_URL'),
          `${component}: DATABASE_URL from Secrets Manager`,
        );
        if (component === 'migrate') {
          const names = container.secrets.map((s: any) => s.name).sort();
          assert.deepEqual(
            names,
            ['DATABASE_URL', 'SECRET_KEY', 'SENTRY_DSN'],
            'migrate: the database, SECRET_KEY for `epu backup`, Sentry',
          );
        }
      }
      const webTask = JSON.parse(one(r, 'aws:iam/rolePolicy:RolePolicy', `epu-${stack}-web-task`).inputs.policy);
      assert.ok(!JSON.stringify(webTask).includes('backups'), 'web cannot touch backups');
    });

    it("gives web, worker and functions the image's own HEALTHCHECK (ECS ignores the image's), and the one-shot migrate none", () => {
      // The Dockerfile's HEALTHCHECK, read from the Dockerfile above this directory.
      let dir = path.resolve(__dirname);
      while (!fs.existsSync(path.join(dir, 'Dockerfile'))) dir = path.dirname(dir);
      const line = fs
        .readFileSync(path.join(dir, 'Dockerfile'), 'utf8')
        .replace(/\\\n\s*/g, '')
        .match(/^HEALTHCHECK (.*) CMD (\[.*\])$/m)!;
      const option = (name: string) => Number(line[1]!.match(new RegExp(`--${name}=(\\d+)s?`))![1]);
      const expected = {
        command: ['CMD', ...(JSON.parse(line[2]!) as string[])],
        interval: option('interval'),
        timeout: option('timeout'),
        retries: option('retries'),
        startPeriod: option('start-period'),
      };
      for (const component of ['web', 'worker', 'functions', 'migrate']) {
        const [container] = JSON.parse(
          one(r, 'aws:ecs/taskDefinition:TaskDefinition', `epu-${stack}-${component}`).inputs.containerDefinitions,
        );
        assert.deepEqual(container.healthCheck, component === 'migrate' ? undefined : expected, component);
      }
    });

    it('lets only the worker and migrate task roles use the backups bucket, and migrate nothing else', () => {
      const backupsArn = one(r, 'aws:s3/bucket:Bucket', `epu-${stack}-backups`).name;
      const mentions = (doc: any, what: string) =>
        doc.Statement.some((s: any) => asList<string>(s.Resource).some((res) => res.includes(what)));
      const task = (c: string) => JSON.parse(one(r, 'aws:iam/rolePolicy:RolePolicy', `epu-${stack}-${c}-task`).inputs.policy);
      const writers = ['web', 'worker', 'functions', 'migrate'].filter((c) => mentions(task(c), backupsArn));
      assert.deepEqual(writers, ['worker', 'migrate']);
      for (const c of ['worker', 'migrate']) {
        const doc = task(c);
        const objects = doc.Statement.find((s: any) => s.Sid === 'ReadWriteObjects');
        assert.ok(
          objects.Resource.some((res: string) => res.endsWith(`:${backupsArn}/*`)),
          `${c}: objects of the backups bucket`,
        );
        for (const action of ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'])
          assert.ok(objects.Action.includes(action), `${c}: ${action}`);
        const list = doc.Statement.find((s: any) => s.Sid === 'ListBuckets');
        assert.ok(
          list.Resource.some((res: string) => res.endsWith(`:${backupsArn}`)),
          `${c}: lists the backups bucket`,
        );
      }
      assert.ok(!mentions(task('migrate'), `epu-${stack}-media`), 'migrate cannot touch media');
      // Nothing else grants the backups bucket: its bucket policy only denies plain HTTP.
      const bucketPolicy = JSON.parse(one(r, 'aws:s3/bucketPolicy:BucketPolicy', `epu-${stack}-backups`).inputs.policy);
      assert.ok(bucketPolicy.Statement.every((s: any) => s.Effect === 'Deny'));
    });

    it(`${settings.backupCopy ? 'copies backups to a bucket in a second region that only the worker may use' : 'keeps backups in one region'}`, () => {
      const copy = r.filter((x) => x.name.startsWith(`epu-${stack}-backup-copy`));
      const task = (c: string) => JSON.parse(one(r, 'aws:iam/rolePolicy:RolePolicy', `epu-${stack}-${c}-task`).inputs.policy);
      const container = (c: string) =>
        JSON.parse(one(r, 'aws:ecs/taskDefinition:TaskDefinition', `epu-${stack}-${c}`).inputs.containerDefinitions)[0];
      const env = (c: string) => Object.fromEntries(container(c).environment.map((e: any) => [e.name, e.value]));
      if (!settings.backupCopy) {
        assert.deepEqual(copy, []);
        for (const c of ['web', 'worker', 'functions', 'migrate']) assert.equal(env(c).BACKUP_COPY_URL, undefined, c);
        return;
      }
      // Every resource of the copy is managed through the provider of the second region.
      const provider = one(r, 'pulumi:providers:aws', `epu-${stack}-backup-copy-region`);
      assert.equal(provider.inputs.region, 'eu-west-1');
      const buckets = copy.filter((x) => x.type.startsWith('aws:s3/'));
      assert.ok(buckets.length >= 7, 'bucket, public access block, ownership, versioning, encryption, lifecycle, policy');
      for (const x of buckets) assert.match(x.provider ?? '', new RegExp(`::epu-${stack}-backup-copy-region::`), `${x.type} in eu-west-1`);
      const bucket = one(r, 'aws:s3/bucket:Bucket', `epu-${stack}-backup-copy`);
      const policy = JSON.parse(one(r, 'aws:s3/bucketPolicy:BucketPolicy', `epu-${stack}-backup-copy`).inputs.policy);
      assert.ok(
        policy.Statement.every((st: any) => st.Effect === 'Deny'),
        'its bucket policy grants nothing',
      );
      const rules = one(r, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', `epu-${stack}-backup-copy`).inputs.rules;
      assert.ok(rules.some((rule: any) => rule.expiration?.days === settings.storage.backupExpireDays));

      const mentions = (doc: any) => JSON.stringify(doc).includes(bucket.name);
      assert.deepEqual(
        ['web', 'worker', 'functions', 'migrate'].filter((c) => mentions(task(c))),
        ['worker'],
      );
      for (const x of policies(r).filter((p) => p.name.endsWith('-exec'))) assert.ok(!mentions(x.doc), `${x.name} cannot reach the copy`);
      const objects = task('worker').Statement.find((st: any) => st.Sid === 'ReadWriteObjects');
      assert.ok(
        objects.Resource.some((res: string) => res.endsWith(`:${bucket.name}/*`)),
        'worker: objects of the copy bucket',
      );

      assert.equal(env('worker').BACKUP_COPY_URL, `s3://epu-${stack}-backup-copy-mock`);
      assert.equal(env('worker').BACKUP_COPY_S3_REGION, 'eu-west-1');
      for (const c of ['web', 'functions', 'migrate']) assert.equal(env(c).BACKUP_COPY_URL, undefined, `${c} has no BACKUP_COPY_URL`);
    });

    it('gives the migrate task and the worker BACKUP_STORAGE_URL and SECRET_KEY, and web and functions no BACKUP_STORAGE_URL', () => {
      const container = (c: string) =>
        JSON.parse(one(r, 'aws:ecs/taskDefinition:TaskDefinition', `epu-${stack}-${c}`).inputs.containerDefinitions)[0];
      const env = (c: string) => Object.fromEntries(container(c).environment.map((e: any) => [e.name, e.value]));
      for (const c of ['migrate', 'worker']) {
        assert.equal(env(c).BACKUP_STORAGE_URL, `s3://epu-${stack}-backups-mock`, `${c} BACKUP_STORAGE_URL`);
        assert.equal(env(c).BACKUP_KEEP, String(settings.backupKeep), `${c} BACKUP_KEEP`);
        assert.equal(env(c).S3_REGION, 'eu-west-2', `${c} S3_REGION`);
        assert.ok(
          container(c).secrets.some((s: any) => s.name === 'SECRET_KEY'),
          `${c} SECRET_KEY from Secrets Manager`,
        );
      }
      assert.equal(env('migrate').STORAGE_URL, undefined, 'migrate gets no media bucket');
      for (const c of ['web', 'functions']) assert.equal(env(c).BACKUP_STORAGE_URL, undefined, `${c} has no BACKUP_STORAGE_URL`);
      const exec = JSON.parse(one(r, 'aws:iam/rolePolicy:RolePolicy', `epu-${stack}-migrate-exec`).inputs.policy);
      const readable = exec.Statement.find((s: any) => s.Sid === 'ReadSecrets').Resource;
      assert.ok(
        readable.some((arn: string) => arn.endsWith(`:epu-${stack}-secret-key`)),
        'migrate execution role may read SECRET_KEY',
      );
    });

    it('rotates SECRET_KEY automatically with a function that may touch only that secret', () => {
      const rotation = one(r, 'aws:secretsmanager/secretRotation:SecretRotation');
      assert.equal(rotation.inputs.rotationRules.automaticallyAfterDays, settings.secretRotationDays);
      const doc = JSON.parse(one(r, 'aws:iam/rolePolicy:RolePolicy', `epu-${stack}-rotate-secret-key`).inputs.policy);
      const secretStatement = doc.Statement.find((s: any) => s.Sid === 'RotateSecretKey');
      assert.deepEqual(secretStatement.Resource.length, 1);
    });

    it('encrypts Redis at rest and in transit when the environment has it', () => {
      const redis = ofType(r, 'aws:elasticache/replicationGroup:ReplicationGroup');
      assert.equal(redis.length, settings.redis.enabled ? 1 : 0);
      for (const g of redis) {
        assert.equal(g.inputs.atRestEncryptionEnabled, true);
        assert.equal(g.inputs.transitEncryptionEnabled, true);
        assert.ok(g.inputs.authToken);
      }
    });

    it('places tasks on spot capacity as seed 003 says, and stops dev outside working hours', () => {
      const web = one(r, 'aws:ecs/service:Service', `epu-${stack}-web`);
      const spot = web.inputs.capacityProviderStrategies.find((s: any) => s.capacityProvider === 'FARGATE_SPOT');
      const total = web.inputs.capacityProviderStrategies.reduce((n: number, s: any) => n + s.weight, 0);
      assert.equal(spot ? (spot.weight / total) * 100 : 0, settings.spotPercentage);
      const stops = ofType(r, 'aws:appautoscaling/scheduledAction:ScheduledAction').filter(
        (a) => a.inputs.scalableTargetAction.maxCapacity === 0,
      );
      assert.equal(stops.length, stack === 'dev' ? 3 : 0);
      for (const svc of ofType(r, 'aws:ecs/service:Service')) assert.equal(svc.inputs.networkConfiguration.assignPublicIp, false);
    });

    it('alarms on p95 latency above 1s and 5xx above 2% for 5 minutes, DB CPU, connections and bucket errors', () => {
      const alarms = ofType(r, 'aws:cloudwatch/metricAlarm:MetricAlarm');
      const latency = one(r, 'aws:cloudwatch/metricAlarm:MetricAlarm', `epu-${stack}-latency`).inputs;
      assert.equal(latency.extendedStatistic, 'p95');
      assert.equal(latency.threshold, 1);
      assert.equal(latency.period * latency.evaluationPeriods, 300);
      const errors = one(r, 'aws:cloudwatch/metricAlarm:MetricAlarm', `epu-${stack}-errors`).inputs;
      assert.equal(errors.threshold, 0.02);
      assert.equal(errors.evaluationPeriods * errors.metricQueries.find((q: any) => q.id === 'requests').metric.period, 300);
      assert.equal(one(r, 'aws:cloudwatch/metricAlarm:MetricAlarm', `epu-${stack}-db-cpu`).inputs.threshold, 80);
      assert.equal(
        one(r, 'aws:cloudwatch/metricAlarm:MetricAlarm', `epu-${stack}-db-connections`).inputs.threshold,
        Math.floor(settings.database.maxConnections * 0.8),
      );
      assert.ok(alarms.some((a) => a.name === `epu-${stack}-bucket-errors`));
      assert.ok(
        alarms.every((a) => a.inputs.alarmActions.length > 0),
        'every alarm notifies',
      );
    });

    it('sets a monthly budget with alert thresholds', () => {
      const budget = one(r, 'aws:budgets/budget:Budget');
      assert.equal(budget.inputs.limitAmount, String(settings.budget.monthlyAmount));
      const actual = budget.inputs.notifications.filter((n: any) => n.notificationType === 'ACTUAL').map((n: any) => n.threshold);
      assert.deepEqual(actual, [50, 80, 100]);
      assert.ok(budget.inputs.notifications.some((n: any) => n.notificationType === 'FORECASTED'));
    });
  });
}
