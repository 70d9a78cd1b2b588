import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { backupCopyRegion, type DeployInputs } from '../environments';
import { policyDocument } from './policy';

/** Where EPU writes derived images (thumbnails, previews): the only part of the media CloudFront serves. */
export const PUBLIC_MEDIA_PREFIX = 'derived/';

export interface AwsStorage {
  media: aws.s3.Bucket;
  backups: aws.s3.Bucket;
  /** The copy of the backups in a second region (BACKUP_COPY_URL), where the stack asks for one. */
  backupCopy: { bucket: aws.s3.Bucket; region: string } | null;
  publicAccessBlocks: aws.s3.BucketPublicAccessBlock[];
  oac: aws.cloudfront.OriginAccessControl;
  cdn: aws.cloudfront.Distribution;
  cdnBaseUrl: pulumi.Output<string>;
}

/**
 * Private, versioned, encrypted buckets with every public-access switch on:
 * media, backups, and (where the stack asks) a copy of the backups in a second
 * region, through a provider of that region.
 * CloudFront reads media through origin access control, and its bucket policy lets
 * it read only `derived/`; originals stay reachable only through signed URLs.
 */
export function createStorage(inputs: DeployInputs, accountId: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): AwsStorage {
  const { prefix, settings } = inputs;
  const protect = settings.database.deletionProtection;
  const publicAccessBlocks: aws.s3.BucketPublicAccessBlock[] = [];

  const bucket = (
    kind: 'media' | 'backups' | 'backup-copy',
    rules: aws.types.input.s3.BucketLifecycleConfigurationRule[],
    where: pulumi.CustomResourceOptions,
  ) => {
    const b = new aws.s3.Bucket(
      `${prefix}-${kind}`,
      {
        bucketPrefix: `${prefix}-${kind}-`,
        forceDestroy: kind === 'media' && !protect,
        tags: { app: 'epu', env: settings.name, data: kind },
      },
      { ...where, protect: protect || kind !== 'media' },
    );
    publicAccessBlocks.push(
      new aws.s3.BucketPublicAccessBlock(
        `${prefix}-${kind}`,
        {
          bucket: b.id,
          blockPublicAcls: true,
          blockPublicPolicy: true,
          ignorePublicAcls: true,
          restrictPublicBuckets: true,
        },
        where,
      ),
    );
    new aws.s3.BucketOwnershipControls(`${prefix}-${kind}`, { bucket: b.id, rule: { objectOwnership: 'BucketOwnerEnforced' } }, where);
    new aws.s3.BucketVersioning(`${prefix}-${kind}`, { bucket: b.id, versioningConfiguration: { status: 'Enabled' } }, where);
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${prefix}-${kind}`,
      {
        bucket: b.id,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' }, bucketKeyEnabled: true }],
      },
      where,
    );
    new aws.s3.BucketLifecycleConfiguration(`${prefix}-${kind}`, { bucket: b.id, rules }, where);
    return b;
  };

  const media = bucket(
    'media',
    [
      {
        id: 'expire-old-versions',
        status: 'Enabled',
        filter: {},
        noncurrentVersionExpiration: { noncurrentDays: settings.storage.mediaNoncurrentDays },
      },
      { id: 'abort-incomplete-uploads', status: 'Enabled', filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
      {
        id: 'originals-infrequent-access',
        status: 'Enabled',
        filter: { prefix: 'originals/' },
        transitions: [{ days: 90, storageClass: 'STANDARD_IA' }],
      },
    ],
    opts,
  );
  const backupRules: aws.types.input.s3.BucketLifecycleConfigurationRule[] = [
    {
      id: 'backups-cold-then-expire',
      status: 'Enabled',
      filter: {},
      transitions: [{ days: settings.storage.backupColdAfterDays, storageClass: 'GLACIER_IR' }],
      expiration: { days: settings.storage.backupExpireDays },
      noncurrentVersionExpiration: { noncurrentDays: 30 },
    },
    { id: 'abort-incomplete-uploads', status: 'Enabled', filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
  ];
  const backups = bucket('backups', backupRules, opts);
  // The worker copies each backup here (backup.copy) and checks it against its manifest.
  const copyRegion = backupCopyRegion(inputs);
  const copyOpts = copyRegion
    ? { ...opts, provider: new aws.Provider(`${prefix}-backup-copy-region`, { region: copyRegion as aws.Region }, opts) }
    : null;
  const backupCopy = copyRegion && copyOpts ? { bucket: bucket('backup-copy', backupRules, copyOpts), region: copyRegion } : null;

  const oac = new aws.cloudfront.OriginAccessControl(
    `${prefix}-media`,
    {
      name: `${prefix}-media`,
      description: 'CloudFront signs its reads of the media bucket',
      originAccessControlOriginType: 's3',
      signingBehavior: 'always',
      signingProtocol: 'sigv4',
    },
    opts,
  );

  const cdn = new aws.cloudfront.Distribution(
    `${prefix}-media`,
    {
      enabled: true,
      isIpv6Enabled: true,
      comment: `EPU ${settings.name} public media (derived images only)`,
      priceClass: 'PriceClass_100',
      aliases: inputs.cdnDomain ? [inputs.cdnDomain] : undefined,
      origins: [{ originId: 'media', domainName: media.bucketRegionalDomainName, originAccessControlId: oac.id }],
      defaultCacheBehavior: {
        targetOriginId: 'media',
        viewerProtocolPolicy: 'redirect-to-https',
        allowedMethods: ['GET', 'HEAD'],
        cachedMethods: ['GET', 'HEAD'],
        compress: true,
        // AWS managed "CachingOptimized" policy.
        cachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6',
      },
      restrictions: { geoRestriction: { restrictionType: 'none' } },
      viewerCertificate:
        inputs.cdnDomain && inputs.aws?.certificateArn
          ? { acmCertificateArn: inputs.aws.certificateArn, sslSupportMethod: 'sni-only', minimumProtocolVersion: 'TLSv1.2_2021' }
          : { cloudfrontDefaultCertificate: true },
      tags: { app: 'epu', env: settings.name },
    },
    opts,
  );

  // Only this distribution, only GET, only derived images; and nobody over plain HTTP.
  const deny = (b: aws.s3.Bucket) => ({
    Sid: 'DenyInsecureTransport',
    Effect: 'Deny' as const,
    Principal: { AWS: '*' },
    Action: ['s3:*'],
    Resource: [b.arn, pulumi.interpolate`${b.arn}/*`],
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  });
  new aws.s3.BucketPolicy(
    `${prefix}-media`,
    {
      bucket: media.id,
      policy: policyDocument([
        {
          Sid: 'CloudFrontReadsDerivedOnly',
          Effect: 'Allow',
          Principal: { Service: 'cloudfront.amazonaws.com' },
          Action: ['s3:GetObject'],
          Resource: [pulumi.interpolate`${media.arn}/${PUBLIC_MEDIA_PREFIX}*`],
          Condition: { StringEquals: { 'AWS:SourceArn': pulumi.interpolate`arn:aws:cloudfront::${accountId}:distribution/${cdn.id}` } },
        },
        deny(media),
      ]),
    },
    { ...opts, dependsOn: publicAccessBlocks },
  );
  new aws.s3.BucketPolicy(
    `${prefix}-backups`,
    { bucket: backups.id, policy: policyDocument([deny(backups)]) },
    { ...opts, dependsOn: publicAccessBlocks },
  );
  if (backupCopy && copyOpts) {
    new aws.s3.BucketPolicy(
      `${prefix}-backup-copy`,
      { bucket: backupCopy.bucket.id, policy: policyDocument([deny(backupCopy.bucket)]) },
      { ...copyOpts, dependsOn: publicAccessBlocks },
    );
  }

  // Request metrics make 4xx/5xx counts available to the bucket-errors alarm.
  new aws.s3.BucketMetric(`${prefix}-media`, { bucket: media.id, name: 'EntireBucket' }, opts);

  const cdnBaseUrl = inputs.cdnDomain ? pulumi.output(`https://${inputs.cdnDomain}`) : pulumi.interpolate`https://${cdn.domainName}`;
  return { media, backups, backupCopy, publicAccessBlocks, oac, cdn, cdnBaseUrl };
}
