import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_RUNTIME_OPTIONS, withRuntimeOptions } from './node-runtime.js';

describe('Node runtime options', () => {
  it("adds EPU's young generation to NODE_OPTIONS, keeping the operator's options and their own semi-space size", () => {
    expect(withRuntimeOptions(undefined)).toBe('--max-semi-space-size=32');
    expect(withRuntimeOptions('  ')).toBe('--max-semi-space-size=32');
    expect(withRuntimeOptions('--enable-source-maps')).toBe('--enable-source-maps --max-semi-space-size=32');
    expect(withRuntimeOptions('--max-semi-space-size=64')).toBe('--max-semi-space-size=64');
  });

  it('are what the image runs with too (the Dockerfile sets the same NODE_OPTIONS)', () => {
    const dockerfile = fs.readFileSync(path.join(import.meta.dirname, '../../Dockerfile'), 'utf8');
    const runtimeStage = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtimeStage).toContain(`NODE_OPTIONS=${NODE_RUNTIME_OPTIONS}`);
  });
});
