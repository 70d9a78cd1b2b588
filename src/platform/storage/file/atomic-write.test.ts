import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { writeAtomically } from './atomic-write.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-atomic-write-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A stream that gives `bytes` bytes in 16 KiB chunks, then fails as a client going away would. */
function cutOffAfter(bytes: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) {
        this.destroy(new Error('connection reset'));
        return;
      }
      const chunk = Buffer.alloc(Math.min(16 * 1024, bytes - sent), 7);
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

describe('writeAtomically: a temp file beside the target, then a rename', () => {
  it('replaces the target whole, from a string or a stream, and leaves no temp file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'a.json');
    await writeAtomically(file, '{"v":1}');
    await writeAtomically(file, Readable.from([Buffer.from('{"v":'), Buffer.from('2}')]));
    expect(fs.readdirSync(dir)).toEqual(['a.json']);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"v":2}');
  });

  it('leaves nothing behind when the stream is cut off mid-way, and the previous file as it was', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'b.bin');
    const fresh = path.join(dir, 'c.bin');
    fs.writeFileSync(file, 'previous');
    await expect(writeAtomically(file, cutOffAfter(200_000))).rejects.toThrow('connection reset');
    await expect(writeAtomically(fresh, cutOffAfter(200_000))).rejects.toThrow('connection reset');
    expect(fs.readdirSync(dir)).toEqual(['b.bin']);
    expect(fs.readFileSync(file, 'utf8')).toBe('previous');
  });

  it('runs beforeRename once the temp file holds everything, and renames nothing when it fails', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'd.bin');
    fs.writeFileSync(file, 'previous');
    let seen: string[] = [];
    await expect(
      writeAtomically(file, Readable.from([Buffer.alloc(100_000, 1), Buffer.alloc(100_000, 2)]), async () => {
        seen = fs.readdirSync(dir).filter((name) => name !== 'd.bin');
        expect(fs.statSync(path.join(dir, seen[0]!)).size).toBe(200_000);
        throw new Error('sidecar failed');
      }),
    ).rejects.toThrow('sidecar failed');
    expect(seen).toEqual([expect.stringMatching(/^\.d\.bin\.[0-9a-f-]{36}\.tmp$/)]);
    expect(fs.readdirSync(dir)).toEqual(['d.bin']);
    expect(fs.readFileSync(file, 'utf8')).toBe('previous');
  });

  it('fails without creating anything when the directory is missing', async () => {
    const dir = tempDir();
    await expect(writeAtomically(path.join(dir, 'no', 'such', 'e.json'), '{}')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
