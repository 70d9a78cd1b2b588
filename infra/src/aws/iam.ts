import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs } from '../environments';
import { assumeRole, policyDocument, type Statement } from './policy';
import type { AwsSecrets } from './secrets';
import type { AwsStorage } from './storage';

export const COMPONENTS = ['web', 'worker', 'functions', 'migrate'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface AwsRoles {
  /** What the process itself may do (its AWS credentials inside the task). */
  task: Record<Component, aws.iam.Role>;
  /** What ECS may do to start it: pull the image, read its secrets, write its logs. */
  execution: Record<Component, aws.iam.Role>;
  logGroups: Record<Component, aws.cloudwatch.LogGroup>;
  repository: aws.ecr.Repository;
}

/**
 * Two roles per component, each with inline policies naming exact actions on exact
 * ARNs. Web and functions cannot touch backups, the migrate job can touch only the
 * backups bucket, and no process can read another's secrets.
 */
export function createRoles(inputs: DeployInputs, storage: AwsStorage, secrets: AwsSecrets, opts: pulumi.CustomResourceOptions): AwsRoles {
  const { prefix, settings } = inputs;
  const repository = new aws.ecr.Repository(
    `${prefix}-images`,
    {
      name: `${prefix}`,
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfigurations: [{ encryptionType: 'AES256' }],
      forceDelete: settings.name !== 'prod',
    },
    opts,
  );

  const objects = (b: aws.s3.Bucket) => pulumi.interpolate`${b.arn}/*`;
  const bucketAccess = (buckets: aws.s3.Bucket[]): Statement[] => [
    { Sid: 'ListBuckets', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: buckets.map((b) => b.arn) },
    {
      Sid: 'ReadWriteObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      Resource: buckets.map(objects),
    },
  ];
  const taskStatements: Record<Component, Statement[]> = {
    web: bucketAccess([storage.media]),
    // The worker runs the daily backup.create job (and BACKUP_KEEP pruning deletes old ones), and
    // backup.copy, which alone writes (and prunes) the copy in the second region.
    worker: bucketAccess([storage.media, storage.backups, ...(storage.backupCopy ? [storage.backupCopy.bucket] : [])]),
    functions: bucketAccess([storage.media]),
    // The pre-deploy snapshot (`epu backup`) runs as the migrate task before `epu migrate`:
    // backups bucket only, never media.
    migrate: bucketAccess([storage.backups]),
  };

  const task = {} as Record<Component, aws.iam.Role>;
  const execution = {} as Record<Component, aws.iam.Role>;
  const logGroups = {} as Record<Component, aws.cloudwatch.LogGroup>;
  for (const component of COMPONENTS) {
    logGroups[component] = new aws.cloudwatch.LogGroup(
      `${prefix}-${component}`,
      {
        name: `/epu/${settings.name}/${component}`,
        retentionInDays: settings.logRetentionDays,
      },
      opts,
    );

    task[component] = new aws.iam.Role(
      `${prefix}-${component}-task`,
      {
        name: `${prefix}-${component}-task`,
        description: `EPU ${settings.name} ${component}: the process's own permissions`,
        assumeRolePolicy: assumeRole('ecs-tasks.amazonaws.com'),
      },
      opts,
    );
    if (taskStatements[component].length > 0) {
      new aws.iam.RolePolicy(
        `${prefix}-${component}-task`,
        {
          role: task[component].id,
          policy: policyDocument(taskStatements[component]),
        },
        opts,
      );
    }

    execution[component] = new aws.iam.Role(
      `${prefix}-${component}-exec`,
      {
        name: `${prefix}-${component}-exec`,
        description: `EPU ${settings.name} ${component}: what ECS needs to start it`,
        assumeRolePolicy: assumeRole('ecs-tasks.amazonaws.com'),
      },
      opts,
    );
    const readable = Object.values(secrets)
      .filter((s) => s.readers.includes(component))
      .map((s) => s.secret.arn);
    new aws.iam.RolePolicy(
      `${prefix}-${component}-exec`,
      {
        role: execution[component].id,
        policy: policyDocument([
          {
            Sid: 'PullImage',
            Effect: 'Allow',
            Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
            Resource: [repository.arn],
          },
          // GetAuthorizationToken has no resource-level permissions in AWS: "*" is the only resource it accepts.
          { Sid: 'RegistryLogin', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: ['*'] },
          {
            Sid: 'WriteLogs',
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: [pulumi.interpolate`${logGroups[component].arn}:*`],
          },
          ...(readable.length > 0
            ? [{ Sid: 'ReadSecrets', Effect: 'Allow' as const, Action: ['secretsmanager:GetSecretValue'], Resource: readable }]
            : []),
        ]),
      },
      opts,
    );
  }
  return { task, execution, logGroups, repository };
}
