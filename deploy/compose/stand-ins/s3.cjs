// The minio/minio stand-in: s3rver (an S3-compatible server from npm) on port 9000,
// storing its buckets under the directory given, signing with MINIO_ROOT_USER and
// MINIO_ROOT_PASSWORD as MinIO's root credentials. Like every s3rver it also takes
// unsigned requests, which the mc stand-in uses.
const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');

DUMMY_ACCOUNT.createKeyPair(process.env.MINIO_ROOT_USER, process.env.MINIO_ROOT_PASSWORD);
// Path-style only (S3_FORCE_PATH_STYLE): s3rver would take the host name `minio` for a bucket's.
const server = new S3rver({ address: '0.0.0.0', port: 9000, directory: process.argv[2], silent: false, vhostBuckets: false });
server.run().then(({ port }) => console.log(`s3rver on port ${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => server.close().then(() => process.exit(0)));
