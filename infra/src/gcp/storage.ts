import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { backupCopyRegion, type DeployInputs } from '../environments';

/** Where EPU writes derived images (thumbnails, previews): the only part of the media the CDN serves. */
export const PUBLIC_MEDIA_PREFIX = 'derived/';

export interface GcpStorage {
  media: gcp.storage.Bucket;
  backups: gcp.storage.Bucket;
  /** The copy of the backups in a second region (BACKUP_COPY_URL), where the stack asks for one. */
  backupCopy: gcp.storage.Bucket | null;
}

/**
 * Private buckets: media, backups, and (where the stack asks) a copy of the
 * backups in a second region. Neither is ever readable by allUsers: public access
 * prevention is enforced on both and access is uniform (IAM only, no ACLs).
 * Thumbnails reach the public through Cloud CDN, which signs its own requests to
 * the bucket (see cdn.ts).
 */
export function createStorage(inputs: DeployInputs, opts: pulumi.CustomResourceOptions): GcpStorage {
  const { prefix, region, settings } = inputs;
  const protect = settings.database.deletionProtection;

  const media = new gcp.storage.Bucket(
    `${prefix}-media`,
    {
      name: `${inputs.gcp!.project}-${prefix}-media`,
      location: region,
      storageClass: 'STANDARD',
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      versioning: { enabled: true },
      softDeletePolicy: { retentionDurationSeconds: 7 * 24 * 3600 },
      forceDestroy: !protect,
      lifecycleRules: [
        // Old versions of overwritten or deleted objects go after a while.
        { action: { type: 'Delete' }, condition: { daysSinceNoncurrentTime: settings.storage.mediaNoncurrentDays, withState: 'ARCHIVED' } },
        { action: { type: 'AbortIncompleteMultipartUpload' }, condition: { age: 1 } },
        // Originals are read rarely after the first weeks.
        {
          action: { type: 'SetStorageClass', storageClass: 'NEARLINE' },
          condition: { age: 90, matchesPrefixes: ['originals/'], withState: 'LIVE' },
        },
      ],
      labels: { app: 'epu', env: settings.name, data: 'media' },
    },
    { ...opts, protect },
  );

  const backupBucket = (kind: 'backups' | 'backup-copy', location: string) =>
    new gcp.storage.Bucket(
      `${prefix}-${kind}`,
      {
        name: `${inputs.gcp!.project}-${prefix}-${kind}`,
        location,
        storageClass: 'STANDARD',
        uniformBucketLevelAccess: true,
        publicAccessPrevention: 'enforced',
        versioning: { enabled: true },
        softDeletePolicy: { retentionDurationSeconds: 7 * 24 * 3600 },
        forceDestroy: false,
        lifecycleRules: [
          {
            action: { type: 'SetStorageClass', storageClass: 'COLDLINE' },
            condition: { age: settings.storage.backupColdAfterDays, withState: 'LIVE' },
          },
          { action: { type: 'Delete' }, condition: { age: settings.storage.backupExpireDays } },
          { action: { type: 'Delete' }, condition: { daysSinceNoncurrentTime: 30, withState: 'ARCHIVED' } },
          { action: { type: 'AbortIncompleteMultipartUpload' }, condition: { age: 1 } },
        ],
        labels: { app: 'epu', env: settings.name, data: kind },
      },
      { ...opts, protect },
    );
  const backups = backupBucket('backups', region);
  // The worker copies each backup here (backup.copy) and checks it against its manifest.
  const copyRegion = backupCopyRegion(inputs);
  const backupCopy = copyRegion ? backupBucket('backup-copy', copyRegion) : null;

  return { media, backups, backupCopy };
}
