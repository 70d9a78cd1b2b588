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

type Workflow = {
  on: any;
  jobs: Record<
    string,
    {
      needs?: string | string[];
      environment?: { name: string };
      steps: { name?: string; run?: string; uses?: string; if?: string; with?: Record<string, unknown> }[];
      services?: Record<string, { image: string }>;
      env?: Record<string, string>;
    }
  >;
};
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
    fs.writeFileSync(
      broken,
      fs.readFileSync(path.join(root, '.github/workflows/ci.yml'), 'utf8').replace('runs-on: ubuntu-24.04', 'runs_on: ubuntu-24.04'),
    );
    const { status, output } = validate(broken);
    expect(status).not.toBe(0);
    expect(output).toContain('runs_on');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

/**
 * The npm scripts a shell text calls: `npm run [--flags] NAME`, `npm run-script NAME`, `npm test`,
 * `npm start`. `--if-present` would hide a missing script, so it is no excuse here.
 */
function npmScriptsCalled(text: string): string[] {
  return [...text.matchAll(/(?<![\w-])npm (?:(?:run|run-script)((?: --?[\w-]+(?:=\S+)?)*) ([\w:.-]+)|(test|start)\b)/g)].map(
    (match) => match[2] ?? match[3]!,
  );
}

describe('npm scripts that CI calls', () => {
  const scripts = new Set(
    Object.keys((JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: object }).scripts),
  );
  const texts = [
    ...fs
      .readdirSync(path.join(root, '.github/workflows'))
      .filter((name) => /\.ya?ml$/.test(name))
      .flatMap((name) => Object.entries(load(name).jobs).map(([job]) => [`${name} ${job}`, runs(load(name), job)] as const)),
    ['.ci/run', fs.readFileSync(path.join(root, '.ci/run'), 'utf8')] as const,
  ];

  it('finds the scripts in a command line, past flags like --if-present', () => {
    expect(npmScriptsCalled('npm ci\nnpm run --if-present test:e2e && npm test\nnpm run build --silent')).toEqual([
      'test:e2e',
      'test',
      'build',
    ]);
  });

  it('every npm script a workflow or .ci/run calls exists in package.json', () => {
    const called = texts.flatMap(([where, text]) => npmScriptsCalled(text).map((script) => ({ where, script })));
    expect(called.map((c) => c.script)).toContain('test');
    expect(called.filter((c) => !scripts.has(c.script))).toEqual([]);
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
  });

  it('runs what .ci/run runs: the script itself, as root, with the addresses of the services', () => {
    expect(runs(ci, 'test')).toMatch(/^sudo env "PATH=\$PATH" .*"TEST_DATABASE_URL=\$TEST_DATABASE_URL" .*bash \.ci\/run$/m);
    const script = fs.readFileSync(path.join(root, '.ci/run'), 'utf8');
    expect(script).toMatch(/^export EPU_TEST_REQUIRE_ALL=1$/m);
    expect(script).toMatch(/^npm test$/m);
  });

  it('builds the image tagged with the git sha, scans it, makes an SBOM and pushes only on main', () => {
    const image = ci.jobs.image!;
    expect(image.needs).toEqual(['test']);
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
    const migrate = staging.indexOf('gcloud run jobs execute "$MIGRATE_JOB"');
    expect(migrate).toBeGreaterThan(-1);
    expect(migrate).toBeLessThan(staging.indexOf('gcloud run services update "$WEB_SERVICE"'));
    expect(staging).toContain('npx epu smoke --url');
    expect(deploy.jobs.production!.needs).toBe('staging');
  });

  // Pulumi (infra/src/gcp/services.ts) creates and owns epu-<stack>-web, -functions (services),
  // -worker (worker pool) and -migrate (job) with their env and secrets; CI only puts new images on them.
  describe('rolls images onto the Pulumi-managed resources only', () => {
    const STACK: Record<string, string> = { staging: 'staging', production: 'prod' };
    const KIND: Record<string, string[]> = { services: ['web', 'functions'], 'worker-pools': ['worker'], jobs: ['migrate'] };
    const text = fs.readFileSync(path.join(root, '.github/workflows/deploy.yml'), 'utf8');
    /** gcloud run commands of a job, continuation lines joined, with resource names resolved through env. */
    const commands = (job: string) => {
      const env = { ...(deploy as unknown as { env?: Record<string, string> }).env, ...deploy.jobs[job]!.env };
      return runs(deploy, job)
        .replace(/\\\n\s*/g, ' ')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => /^gcloud (beta |alpha )?run /.test(line))
        .map((line) => {
          const match = line.match(/^gcloud (?:beta |alpha )?run (services|jobs|worker-pools) ([\w-]+) (\S+)/);
          expect(match, line).not.toBeNull();
          const target = match![3]!.replace(/^"?\$\{?(\w+)\}?"?$/, (_, name: string) => env[name] ?? `<unset ${name}>`);
          return { line, kind: match![1]!, verb: match![2]!, target };
        });
    };

    it('uses the stack names of infra (staging, prod) in the Pulumi prefix epu-<env>-', () => {
      const stacks = fs
        .readdirSync(path.join(root, 'infra'))
        .filter((f) => /^Pulumi\.\w+\.yaml$/.test(f))
        .map((f) => f.split('.')[1]);
      expect(stacks).toEqual(expect.arrayContaining(Object.values(STACK)));
      expect(fs.readFileSync(path.join(root, 'infra/src/index.ts'), 'utf8')).toContain('prefix: `epu-${stack}`');
    });

    it.each(Object.keys(STACK))('%s: every gcloud run command targets an epu-<env>- resource of the right kind', (job) => {
      const stack = STACK[job]!;
      const all = commands(job);
      expect(all.length).toBeGreaterThan(0);
      for (const { line, kind, target } of all) {
        expect(target, line).toMatch(new RegExp(`^epu-${stack}-(${KIND[kind]!.join('|')})$`));
      }
      // Every Pulumi-managed resource gets the new image, and nothing else does.
      const updated = all
        .filter((c) => c.verb === 'update' && c.line.includes('--image "$IMAGE"'))
        .map((c) => c.target)
        .sort();
      expect(updated).toEqual(['functions', 'migrate', 'web', 'worker'].map((c) => `epu-${stack}-${c}`));
    });

    it('never creates resources or sets their env vars, secrets or commands (Pulumi owns them)', () => {
      for (const job of Object.keys(STACK)) {
        for (const { line, verb } of commands(job)) {
          expect(['update', 'update-traffic', 'describe', 'execute'], line).toContain(verb);
          expect(line).not.toMatch(
            /--(set|update|remove|clear)-(env-vars|secrets)|--env-vars-file|--command|--service-account|--port|--(no-)?allow-unauthenticated/,
          );
          if (line.includes('--args')) expect(line).toMatch(/^gcloud run jobs execute \S+ .*--args backup\b/);
        }
      }
      expect(text).not.toMatch(/gcloud (beta |alpha )?run (deploy|(services|jobs|worker-pools) (deploy|create|replace))\b/);
    });

    it('names no epu- resource outside the epu-<env>- prefix anywhere in the file', () => {
      const names = [...text.matchAll(/(?<![\w.-])epu-[\w<>-]+/g)].map((m) => m[0]);
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((name) => !/^epu-(staging|prod|<env>)-/.test(name))).toEqual([]);
    });
  });

  it('gates production on a reviewed environment, backs up, migrates, then shifts traffic 10 → 50 → 100 with gates', () => {
    const production = deploy.jobs.production!;
    expect(production.environment!.name).toBe('production');
    const names = production.steps.map((step) => step.name ?? '');
    const order = [
      'Pre-deploy backup',
      'Migrate',
      'Canary 10%',
      'Gate after 10%',
      'Canary 50%',
      'Gate after 50%',
      'Release 100%',
      'Gate after 100%',
      'Roll back',
    ];
    const positions = order.map((prefix) => names.findIndex((name) => name.startsWith(prefix)));
    expect(
      positions.every((p) => p >= 0),
      JSON.stringify(names),
    ).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    const text = runs(deploy, 'production');
    expect(text).toContain('--args backup');
    // The backup is a one-off execution of the migrate job on the new image, before the migration itself.
    const step = (prefix: string) => production.steps.findIndex((s) => s.name?.startsWith(prefix));
    const backup = production.steps[step('Pre-deploy backup')]!;
    expect(backup.run).toMatch(/gcloud run jobs execute "\$MIGRATE_JOB" [^\n]*\\\n\s*--args backup [^\n]*--wait/);
    expect(step('New image on the migrate job')).toBeGreaterThan(-1);
    expect(step('New image on the migrate job')).toBeLessThan(step('Pre-deploy backup'));
    expect(text).toContain('--no-traffic --tag canary');
    expect(text.match(/node scripts\/canary-gate\.mjs/g)).toHaveLength(3);
    const rollback = production.steps.find((step) => step.name?.startsWith('Roll back'))!;
    expect(rollback.if).toContain('failure()');
    expect(rollback.run).toContain('--to-revisions "${{ steps.previous.outputs.revision }}=100"');
  });
});
