// SECURITY.md's "Who gets which secret", held to what the programs deploy: each
// process's secrets (the environment it gets from Secret Manager / Secrets
// Manager) and the buckets its identity is granted. The prod stack has every
// optional part (Redis, SMTP, Sentry, the backup copy) and must match the table
// exactly; smaller stacks give each process a part of its row.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { deployAws } from '../src/aws';
import { COMPONENTS } from '../src/aws/iam';
import { deployGcp } from '../src/gcp';
import { STACKS } from '../src/environments';
import { deployUnderMocks, inputsFor, ofType, one, type Recorded } from './support';
import { type Bucket, readSecretTable, rowsOf, type Platform } from './security-table';

const table = readSecretTable(__dirname);
type Granted = Record<string, { secrets: string[]; buckets: Bucket[] }>;

/** The bucket a resource name or ARN ends with, for `prefix`. */
function bucketOf(prefix: string, name: string): Bucket | undefined {
  const kinds: [string, Bucket][] = [
    ['media', 'media'],
    ['backups', 'backups'],
    ['backup-copy', 'backup copy'],
  ];
  return kinds.find(([suffix]) => name === `${prefix}-${suffix}` || name.endsWith(`:${prefix}-${suffix}/*`))?.[1];
}

function gcpGrants(r: Recorded[], prefix: string): Granted {
  const containers = [
    ...ofType(r, 'gcp:cloudrunv2/service:Service').map((s) => s.inputs.template.containers[0]),
    one(r, 'gcp:cloudrunv2/workerPool:WorkerPool').inputs.template.containers[0],
    one(r, 'gcp:cloudrunv2/job:Job').inputs.template.template.containers[0],
  ];
  const granted: Granted = {};
  for (const container of containers) {
    const component: string = container.args[0];
    const secrets = container.envs.filter((e: any) => e.valueSource?.secretKeyRef).map((e: any) => e.name as string);
    // Bucket grants are named `${prefix}-${component}-${bucket}` and go to the component's own account.
    const buckets = ofType(r, 'gcp:storage/bucketIAMMember:BucketIAMMember')
      .filter((b) => String(b.inputs.member).startsWith(`serviceAccount:${prefix}-${component}@`))
      .map((b) => bucketOf(prefix, `${prefix}-${b.name.slice(`${prefix}-${component}-`.length)}`));
    assert.ok(!buckets.includes(undefined), `${component}: a grant on a bucket the table does not know`);
    granted[component] = { secrets: secrets.sort(), buckets: (buckets as Bucket[]).sort() };
  }
  return granted;
}

function awsGrants(r: Recorded[], prefix: string): Granted {
  const granted: Granted = {};
  for (const component of COMPONENTS) {
    const definition = one(r, 'aws:ecs/taskDefinition:TaskDefinition', `${prefix}-${component}`);
    const [container] = JSON.parse(definition.inputs.containerDefinitions);
    const policy = JSON.parse(one(r, 'aws:iam/rolePolicy:RolePolicy', `${prefix}-${component}-task`).inputs.policy);
    // Objects of a bucket, by any statement: reading them is what matters.
    const objects: string[] = policy.Statement.filter((s: any) => [s.Action].flat().includes('s3:GetObject')).flatMap((s: any) =>
      [s.Resource].flat(),
    );
    const buckets = objects.map((arn) => bucketOf(prefix, arn));
    assert.ok(!buckets.includes(undefined), `${component}: objects of a bucket the table does not know: ${objects.join(', ')}`);
    granted[component] = {
      secrets: container.secrets.map((s: any) => s.name as string).sort(),
      buckets: (buckets as Bucket[]).sort(),
    };
  }
  return granted;
}

function compare(platform: Platform, granted: Granted, exact: boolean): void {
  const rows = rowsOf(table, platform);
  assert.deepEqual([...rows.keys()].sort(), Object.keys(granted).sort(), `SECURITY.md has a ${platform} row for each process`);
  for (const [process, actual] of Object.entries(granted)) {
    const row = rows.get(process)!;
    if (exact) {
      assert.deepEqual(actual.secrets, row.secrets, `${platform} ${process}: secrets as SECURITY.md says`);
      assert.deepEqual(actual.buckets, row.buckets, `${platform} ${process}: buckets as SECURITY.md says`);
    } else {
      for (const secret of actual.secrets)
        assert.ok(row.secrets.includes(secret), `${platform} ${process} gets ${secret}, not in SECURITY.md`);
      for (const bucket of actual.buckets)
        assert.ok(row.buckets.includes(bucket), `${platform} ${process} may use ${bucket}, not in SECURITY.md`);
    }
  }
}

for (const stack of STACKS) {
  describe(`SECURITY.md's secrets table against ${stack}`, () => {
    let gcp: Recorded[];
    let aws: Recorded[];
    before(async () => {
      gcp = await deployUnderMocks(stack, () => deployGcp(inputsFor(stack, 'gcp')));
      aws = await deployUnderMocks(stack, () => deployAws(inputsFor(stack, 'aws')));
    });

    it(`gives each process on GCP the secrets and buckets SECURITY.md lists${stack === 'prod' ? '' : ' (or fewer)'}`, () => {
      compare('GCP', gcpGrants(gcp, `epu-${stack}`), stack === 'prod');
    });

    it(`gives each process on AWS the secrets and buckets SECURITY.md lists${stack === 'prod' ? '' : ' (or fewer)'}`, () => {
      compare('AWS', awsGrants(aws, `epu-${stack}`), stack === 'prod');
    });
  });
}

describe("the check of SECURITY.md's secrets table", () => {
  it('fails on a drift: a secret or a bucket granted that the table does not list', () => {
    const rows = rowsOf(table, 'AWS');
    const migrate = rows.get('migrate')!;
    const granted: Granted = Object.fromEntries(
      [...rows].map(([process, row]) => [process, { secrets: row.secrets, buckets: row.buckets }]),
    );
    assert.doesNotThrow(() => compare('AWS', granted, true));
    granted.migrate = { secrets: [...migrate.secrets, 'FUNCTIONS_TOKEN'].sort(), buckets: migrate.buckets };
    assert.throws(() => compare('AWS', granted, true), /AWS migrate: secrets/);
    granted.migrate = { secrets: migrate.secrets, buckets: [...migrate.buckets, 'media' as const].sort() };
    assert.throws(() => compare('AWS', granted, false), /AWS migrate may use media/);
  });
});
