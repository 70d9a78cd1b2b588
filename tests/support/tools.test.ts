// The table of system tools that decides, per tier, between running, skipping
// with one line, and (EPU_TEST_REQUIRE_ALL=1, as CI sets) failing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { findTool, missingTools, skipLine, tierCanRun, TIERS, TOOLS } from './tools.mjs';

const saved = { ...process.env };
let bin: string;
beforeEach(() => {
  bin = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-tools-'));
  process.env.PATH = bin;
  for (const tool of Object.values(TOOLS)) delete process.env[tool.variable];
  delete process.env.EPU_TEST_REQUIRE_ALL;
  process.env.EPU_TEST_SKIPS_REPORTED = '1';
});
afterEach(() => {
  vi.restoreAllMocks();
  process.env = { ...saved };
  fs.rmSync(bin, { recursive: true, force: true });
});

function install(name: string, mode = 0o755): string {
  const file = path.join(bin, name);
  fs.writeFileSync(file, '#!/bin/sh\n', { mode });
  return file;
}

describe('system tools for the test tiers', () => {
  it('finds a tool on PATH only when it is executable there', () => {
    expect(findTool('kubectl')).toBeUndefined();
    install('kubectl', 0o644);
    expect(findTool('kubectl')).toBeUndefined();
    fs.chmodSync(path.join(bin, 'kubectl'), 0o755);
    expect(findTool('kubectl')).toBe(path.join(bin, 'kubectl'));
  });

  it('takes the tool from its variable when set, and a variable pointing nowhere means missing', () => {
    const elsewhere = install('my-promtool');
    process.env.PROMTOOL = elsewhere;
    expect(findTool('promtool')).toBe(elsewhere);
    install('promtool');
    process.env.PROMTOOL = path.join(bin, 'absent');
    expect(findTool('promtool')).toBeUndefined();
  });

  it('knows chromium by either of its names', () => {
    const browser = install('chromium-browser');
    expect(findTool('chromium')).toBe(browser);
  });

  it('names each missing tool of a tier with its install command, in one line', () => {
    install('redis-server');
    expect(missingTools('replicas')).toEqual(['nginx']);
    const line = skipLine('replicas')!;
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toBe(`skip replicas: ${TIERS.replicas!.tests} need nginx (${TOOLS.nginx!.install}, or set NGINX)`);
    expect(skipLine('redis')).toBeUndefined();
  });

  it('skips a tier that cannot run, and fails it instead when EPU_TEST_REQUIRE_ALL=1', () => {
    expect(tierCanRun('kubernetes')).toBe(false);
    process.env.EPU_TEST_REQUIRE_ALL = '1';
    expect(() => tierCanRun('kubernetes')).toThrow(
      /EPU_TEST_REQUIRE_ALL=1 and a tool is missing: skip kubernetes: .* need kubectl \(apt-get install kubernetes-client/,
    );
    install('kubectl');
    expect(tierCanRun('kubernetes')).toBe(true);
  });

  it('names root among what the image tier lacks when not run as root', () => {
    install('podman');
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    expect(missingTools('image')).toEqual(['root (rootful Podman: run the tests as root)']);
    expect(skipLine('image')).toBe(`skip image: ${TIERS.image!.tests} need root (rootful Podman: run the tests as root)`);
    vi.spyOn(process, 'getuid').mockReturnValue(0);
    expect(skipLine('image')).toBeUndefined();
    fs.rmSync(path.join(bin, 'podman'));
    expect(missingTools('image')).toEqual(['podman']);
  });

  it('refuses a tier or tool it does not know, rather than skipping silently', () => {
    expect(() => tierCanRun('podman-image')).toThrow(/unknown tier podman-image/);
    expect(() => findTool('docker')).toThrow(/unknown tool docker/);
  });
});
