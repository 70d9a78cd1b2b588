import { describe, expect, it } from 'vitest';
import { freePort } from './process.js';

describe('freePort', () => {
  it('never hands out the same port twice in one process, though the kernel may offer a closed probe’s port again', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 3000; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });
});
