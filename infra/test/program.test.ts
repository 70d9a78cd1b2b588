import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { ENVIRONMENTS, STACKS, settingsFor } from '../src/environments';
import { deployUnderMocks } from './support';

function loadProgram(config: Record<string, string>): Record<string, unknown> {
  pulumi.runtime.setAllConfig(config);
  const path = require.resolve('../src/index');
  delete require.cache[path];
  return require(path);
}

describe('environments', () => {
  it('keeps backups 7, 14 and 30 days, and protects only prod from deletion', () => {
    assert.deepEqual(
      STACKS.map((s) => ENVIRONMENTS[s].database.backupRetentionDays),
      [7, 14, 30],
    );
    assert.deepEqual(
      STACKS.map((s) => ENVIRONMENTS[s].database.deletionProtection),
      [false, false, true],
    );
    assert.deepEqual(
      STACKS.map((s) => ENVIRONMENTS[s].database.highAvailability),
      [false, false, true],
    );
  });

  it('scales dev to zero on spot and runs prod on regular capacity with warm instances', () => {
    assert.equal(ENVIRONMENTS.dev.web.minInstances, 0);
    assert.ok(ENVIRONMENTS.dev.offHours);
    assert.deepEqual(
      STACKS.map((s) => ENVIRONMENTS[s].spotPercentage),
      [80, 50, 0],
    );
    assert.ok(ENVIRONMENTS.prod.web.minInstances >= 2);
  });

  it("keeps every process's pool within the database's connections", () => {
    for (const s of STACKS) {
      const e = ENVIRONMENTS[s];
      const peak = (e.web.maxInstances + e.worker.maxInstances + e.functions.maxInstances + 1) * e.database.poolMax;
      assert.ok(
        peak <= e.database.maxConnections * 0.9,
        `${s}: ${peak} pooled connections for max_connections ${e.database.maxConnections}`,
      );
    }
  });

  it('copies backups to a second region in staging and prod (seed 003: cross_region)', () => {
    assert.deepEqual(
      STACKS.map((s) => ENVIRONMENTS[s].backupCopy),
      [false, true, true],
    );
  });

  it('refuses a stack it does not define', () => {
    assert.throws(() => settingsFor('qa'), /unknown stack "qa"/);
  });
});

describe('program (src/index.ts)', () => {
  it('deploys AWS when epu:cloud is aws and exports the env-var sources', async () => {
    let outputs: Record<string, unknown> = {};
    const r = await deployUnderMocks('staging', () => {
      outputs = loadProgram({
        'epu:cloud': 'aws',
        'epu:region': 'eu-west-2',
        'epu:backupCopyRegion': 'eu-west-1',
        'epu:image': 'img',
        'epu:certificateArn': 'arn:aws:acm:eu-west-2:1:certificate/x',
      });
    });
    assert.ok(r.some((x) => x.type === 'aws:rds/instance:Instance'));
    assert.ok(!r.some((x) => x.type.startsWith('gcp:')));
    for (const key of ['publicUrl', 'cdnBaseUrl', 'storageUrl', 'functionsUrl', 'secretArns', 'migrateTaskDefinition', 'backupCopyBucket'])
      assert.ok(key in outputs, key);
  });

  it('deploys GCP when epu:cloud is gcp', async () => {
    let outputs: Record<string, unknown> = {};
    const r = await deployUnderMocks('dev', () => {
      outputs = loadProgram({
        'epu:cloud': 'gcp',
        'epu:region': 'europe-west2',
        'epu:image': 'img',
        'epu:billingAccount': '0-0-0',
        'gcp:project': 'epu-test',
      });
    });
    assert.ok(r.some((x) => x.type === 'gcp:sql/databaseInstance:DatabaseInstance'));
    assert.ok(!r.some((x) => x.type.startsWith('aws:')));
    for (const key of ['publicUrl', 'cdnBaseUrl', 'storageUrl', 'functionsUrl', 'secretIds', 'migrateJob']) assert.ok(key in outputs, key);
  });

  it('refuses staging and prod on AWS without a certificate', async () => {
    await deployUnderMocks('prod', () => {
      assert.throws(
        () => loadProgram({ 'epu:cloud': 'aws', 'epu:region': 'eu-west-2', 'epu:backupCopyRegion': 'eu-west-1', 'epu:image': 'img' }),
        /certificateArn is required/,
      );
    });
  });

  it('refuses stacks that copy backups without a second region, or with the same one', async () => {
    const gcp = { 'epu:cloud': 'gcp', 'epu:region': 'europe-west2', 'epu:image': 'img', 'epu:billingAccount': '0-0-0', 'gcp:project': 'p' };
    await deployUnderMocks('prod', () => {
      assert.throws(() => loadProgram(gcp), /epu:backupCopyRegion is required on the prod stack/);
      assert.throws(
        () => loadProgram({ ...gcp, 'epu:backupCopyRegion': 'europe-west2' }),
        /epu:backupCopyRegion must be another region than epu:region \(both are europe-west2\)/,
      );
    });
  });
});
