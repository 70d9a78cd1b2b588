import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

// s3rver ships no types; this is the part of its API the tests use.
interface S3rverServer {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  /** S3 event notifications, one per stored or deleted object. */
  on(
    event: 'event',
    listener: (event: { Records: { eventName: string; s3: { bucket: { name: string }; object: { key: string } } }[] }) => void,
  ): void;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverServer;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** Every bucket of this server, `bucket` first (startS3rver({ buckets: N })). */
  buckets: string[];
  /**
   * Settings that point EPU at this server: STORAGE_URL and S3_* for parseConfig,
   * and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, which the SDK's default
   * credential chain reads from process.env (use vi.stubEnv for those).
   */
  env: Record<string, string>;
  /** The key of every object written to `bucket` (a put or a completed multipart upload) since the server started, in order. */
  created(bucket: string): string[];
  close(): Promise<void>;
}

/** A real S3-compatible server on a free loopback port, with empty buckets (one unless asked), in a temporary directory. */
export async function startS3rver(options: { buckets?: number } = {}): Promise<TestS3> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-s3rver-'));
  const buckets = Array.from({ length: options.buckets ?? 1 }, () => `epu-test-${crypto.randomBytes(4).toString('hex')}`);
  const bucket = buckets[0]!;
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const created: { bucket: string; key: string }[] = [];
  server.on('event', (event) => {
    for (const record of event.Records) {
      if (record.eventName.startsWith('ObjectCreated:')) created.push({ bucket: record.s3.bucket.name, key: record.s3.object.key });
    }
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    buckets,
    env: {
      STORAGE_URL: `s3://${bucket}`,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    },
    created: (name) => created.filter((object) => object.bucket === name).map((object) => object.key),
    async close() {
      await server.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
