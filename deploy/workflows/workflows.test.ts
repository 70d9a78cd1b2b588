// The GitHub Actions workflows against the workflow schema (action-validator),
// plus the release order the schema cannot see.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const validatorBin = path.join(root, 'node_modules/.bin/action-validator');
const WORKFLOWS = ['ci.yml', 'deploy.yml'];

function validate(file: string) {
  const result = spawnSync(validatorBin, [file], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

type Workflow = { on: any; jobs: Record<string, { needs?: string | string[]; environment?: { name: string }; steps: { name?: string; run?: string; uses?: string; if?: string; with?: Record<string, unknown> }[]; services?: Record<string, { image: string }>; env?: Record<string, string> }> };
const load = (name: string) => parse(fs.readFileSync(path.join(root, '.github/workflows', name), 'utf8')) as Workflow;
const runs = (workflow: Workflow, job: string) => workflow.jobs[job]!.steps.map((step) => step.run ?? '').join('\n');
const uses = (workflow: Workflow) => Object.values(workflow.jobs).flatMap((job) => job.steps.map((step) => step.uses ?? ''));

describe('workflow validation', () => {
  it.each(WORKFLOWS)('%s passes action-validator', (name) => {
    const { status, output } = validate(path.join(root, '.github/workflows', name));
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  it('action-validator rejects a broken workflow', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-workflow-'));
    const broken = path.join(dir, 'broken.yml');
    fs.writeFileSync(broken, fs.readFileSync(path.join(root, '.github/workflows/ci.yml'), 'utf8').replace('runs-on: ubuntu-24.04', 'runs_on: ubuntu-24.04'));
    const { status, output } = validate(broken);
    expect(status).not.toBe(0);
    expect(output).toContain('runs_on');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('ci.yml', () => {
  const ci = load('ci.yml');

  it('runs on pull requests and pushes', () => {
    expect(Object.keys(ci.on)).toEqual(expect.arrayContaining(['pull_request', 'push']));
  });

  it('tests against PostgreSQL and Redis service containers', () => {
    expect(ci.jobs.test!.services!.postgres!.image).toMatch(/^postgres:/);
    expect(ci.jobs.test!.services!.redis!.image).toMatch(/^redis:/);
    expect(ci.jobs.test!.env!.TEST_DATABASE_URL).toMatch(/^postgres:\/\//);
    expect(ci.jobs.test!.env!.EPU_TEST_DB).toBe('external');
  });

  it('lints, checks rules and manifests, and installs what they need', () => {
    const all = Object.keys(ci.jobs).map((job) => runs(ci, job)).join('\n');
    for (const command of ['npm run typecheck', 'squawk migrations', 'promtool check rules', 'promtool test rules', 'npx vitest run deploy/k8s', 'npm test', 'apt-get install', 'chromium']) {
      expect(all).toContain(command);
    }
  });

  it('builds the image tagged with the git sha, scans it, makes an SBOM and pushes only on main', () => {
    const image = ci.jobs.image!;
    expect(image.needs).toEqual(['checks', 'test']);
    const builds = image.steps.filter((step) => step.uses?.startsWith('docker/build-push-action'));
    expect(builds.every((step) => String(step.with!.tags).endsWith(':${{ github.sha }}'))).toBe(true);
    expect(uses(ci).some((u) => u.startsWith('aquasecurity/trivy-action'))).toBe(true);
    expect(uses(ci).some((u) => u.startsWith('anchore/sbom-action'))).toBe(true);
    const push = builds.find((step) => step.with!.push === true)!;
    expect(push.if).toContain("github.ref == 'refs/heads/main'");
  });
});

describe('deploy.yml', () => {
  const deploy = load('deploy.yml');

  it('follows a successful CI run on main', () => {
    expect(deploy.on.workflow_run).toMatchObject({ workflows: ['CI'], types: ['completed'], branches: ['main'] });
  });

  it('migrates and smoke-tests staging before production', () => {
    const staging = runs(deploy, 'staging');
    expect(staging.indexOf('--args migrate')).toBeGreaterThan(-1);
    expect(staging.indexOf('--args migrate')).toBeLessThan(staging.indexOf('gcloud run deploy epu-web'));
    expect(staging).toContain('npx epu smoke --url');
    expect(deploy.jobs.production!.needs).toBe('staging');
  });

  it('gates production on a reviewed environment, backs up, migrates, then shifts traffic 10 → 50 → 100 with gates', () => {
    const production = deploy.jobs.production!;
    expect(production.environment!.name).toBe('production');
    const names = production.steps.map((step) => step.name ?? '');
    const order = ['Pre-deploy backup', 'Migrate', 'Canary 10%', 'Gate after 10%', 'Canary 50%', 'Gate after 50%', 'Release 100%', 'Gate after 100%', 'Roll back'];
    const positions = order.map((prefix) => names.findIndex((name) => name.startsWith(prefix)));
    expect(positions.every((p) => p >= 0), JSON.stringify(names)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    const text = runs(deploy, 'production');
    expect(text).toContain('--args backup');
    expect(text.match(/node scripts\/canary-gate\.mjs/g)).toHaveLength(3);
    const rollback = production.steps.find((step) => step.name?.startsWith('Roll back'))!;
    expect(rollback.if).toContain('failure()');
    expect(rollback.run).toContain('--to-revisions "${{ steps.previous.outputs.revision }}=100"');
  });
});
