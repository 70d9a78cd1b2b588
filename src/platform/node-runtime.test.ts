import { describe, expect, it } from 'vitest';
import { withRuntimeOptions } from './node-runtime.js';

describe('Node runtime options', () => {
  it("adds EPU's young generation to NODE_OPTIONS, keeping the operator's options and their own semi-space size", () => {
    expect(withRuntimeOptions(undefined)).toBe('--max-semi-space-size=32');
    expect(withRuntimeOptions('  ')).toBe('--max-semi-space-size=32');
    expect(withRuntimeOptions('--enable-source-maps')).toBe('--enable-source-maps --max-semi-space-size=32');
    expect(withRuntimeOptions('--max-semi-space-size=64')).toBe('--max-semi-space-size=64');
    expect(withRuntimeOptions('--max_semi_space_size=64')).toBe('--max_semi_space_size=64');
  });
});
