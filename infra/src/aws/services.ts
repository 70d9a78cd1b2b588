import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs, ProcessSize } from '../environments';
import { COMPONENTS, type AwsRoles, type Component } from './iam';
import type { AwsNetwork } from './network';
import { assumeRole, policyDocument } from './policy';
import { SECRET_KEY_ROTATION_CODE, type AwsSecrets } from './secrets';
import type { AwsStorage } from './storage';

export const WEB_PORT = 3000;
export const FUNCTIONS_PORT = 8081;
export const METRICS_PORT = 9464;
/** The Dockerfile's HEALTHCHECK, in an ECS container definition's terms (seconds). */
const IMAGE_HEALTHCHECK = {
  command: ['CMD', 'node', '/app/bin/healthcheck.js'],
  interval: 15,
  timeout: 5,
  retries: 3,
  startPeriod: 30,
};

export interface AwsServices {
  cluster: aws.ecs.Cluster;
  alb: aws.lb.LoadBalancer;
  targetGroup: aws.lb.TargetGroup;
  taskDefinitions: Record<Component, aws.ecs.TaskDefinition>;
  services: Record<Exclude<Component, 'migrate'>, aws.ecs.Service>;
  rotation: { fn: aws.lambda.Function; role: aws.iam.Role; rotation: aws.secretsmanager.SecretRotation };
  publicUrl: pulumi.Output<string>;
  functionsUrl: string;
}

/** Fargate's smallest memory for a vCPU count. */
function fargateSize(size: ProcessSize): { cpu: string; memory: string } {
  const cpu = Math.max(0.25, size.cpu);
  const memory = Math.max(size.memoryMiB, cpu * 2048);
  return { cpu: String(Math.round(cpu * 1024)), memory: String(memory) };
}

/**
 * ECS Fargate: web behind an ALB, functions on a private DNS name, the worker with
 * no inbound port, and migrate as a task definition CI runs before each rollout.
 * Dev and staging put most tasks on FARGATE_SPOT; dev also stops outside working hours.
 */
export function createServices(
  inputs: DeployInputs,
  net: AwsNetwork,
  storage: AwsStorage,
  secrets: AwsSecrets,
  roles: AwsRoles,
  accountId: pulumi.Input<string>,
  opts: pulumi.CustomResourceOptions,
): AwsServices {
  const { prefix, settings, region, image } = inputs;
  const prod = settings.name === 'prod';
  const certificateArn = inputs.aws?.certificateArn;

  const cluster = new aws.ecs.Cluster(
    `${prefix}`,
    {
      name: prefix,
      settings: [{ name: 'containerInsights', value: 'enabled' }],
    },
    opts,
  );
  const spotWeight = settings.spotPercentage;
  const strategy = [
    ...(spotWeight < 100 ? [{ capacityProvider: 'FARGATE', weight: 100 - spotWeight, base: prod ? 1 : 0 }] : []),
    ...(spotWeight > 0 ? [{ capacityProvider: 'FARGATE_SPOT', weight: spotWeight }] : []),
  ];
  new aws.ecs.ClusterCapacityProviders(
    `${prefix}`,
    {
      clusterName: cluster.name,
      capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      defaultCapacityProviderStrategies: strategy,
    },
    opts,
  );

  const namespace = new aws.servicediscovery.PrivateDnsNamespace(`${prefix}`, { name: `${prefix}.internal`, vpc: net.vpc.id }, opts);
  const functionsDiscovery = new aws.servicediscovery.Service(
    `${prefix}-functions`,
    {
      name: 'functions',
      dnsConfig: { namespaceId: namespace.id, dnsRecords: [{ type: 'A', ttl: 10 }], routingPolicy: 'MULTIVALUE' },
      healthCheckCustomConfig: {},
    },
    opts,
  );
  const functionsUrl = `http://functions.${prefix}.internal:${FUNCTIONS_PORT}`;

  const alb = new aws.lb.LoadBalancer(
    `${prefix}-web`,
    {
      name: `${prefix}-web`,
      loadBalancerType: 'application',
      internal: false,
      subnets: net.publicSubnets.map((s) => s.id),
      securityGroups: [net.sg.alb.id],
      dropInvalidHeaderFields: true,
      enableDeletionProtection: prod,
      idleTimeout: 120,
    },
    opts,
  );
  const targetGroup = new aws.lb.TargetGroup(
    `${prefix}-web`,
    {
      name: `${prefix}-web`,
      port: WEB_PORT,
      protocol: 'HTTP',
      targetType: 'ip',
      vpcId: net.vpc.id,
      deregistrationDelay: 30,
      healthCheck: { path: '/healthz', matcher: '200', interval: 15, healthyThreshold: 2, unhealthyThreshold: 3 },
    },
    opts,
  );
  if (certificateArn) {
    new aws.lb.Listener(
      `${prefix}-https`,
      {
        loadBalancerArn: alb.arn,
        port: 443,
        protocol: 'HTTPS',
        sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
        certificateArn,
        defaultActions: [{ type: 'forward', targetGroupArn: targetGroup.arn }],
      },
      opts,
    );
    new aws.lb.Listener(
      `${prefix}-http`,
      {
        loadBalancerArn: alb.arn,
        port: 80,
        protocol: 'HTTP',
        defaultActions: [{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }],
      },
      opts,
    );
  } else {
    if (prod || settings.name === 'staging')
      throw new Error(`epu:certificateArn is required for the ${settings.name} stack (HTTPS on the load balancer)`);
    new aws.lb.Listener(
      `${prefix}-http`,
      {
        loadBalancerArn: alb.arn,
        port: 80,
        protocol: 'HTTP',
        defaultActions: [{ type: 'forward', targetGroupArn: targetGroup.arn }],
      },
      opts,
    );
  }
  const publicUrl = inputs.webDomain
    ? pulumi.output(`https://${inputs.webDomain}`)
    : pulumi.interpolate`${certificateArn ? 'https' : 'http'}://${alb.dnsName}`;

  const baseEnv: Record<string, pulumi.Input<string>> = {
    APP_ENV: settings.appEnv,
    LOG_LEVEL: settings.logLevel,
    PUBLIC_URL: publicUrl,
    STORAGE_URL: pulumi.interpolate`s3://${storage.media.bucket}`,
    S3_REGION: region,
    CDN_BASE_URL: storage.cdnBaseUrl,
    DATABASE_POOL_MAX: String(settings.database.poolMax),
    METRICS_PORT: String(METRICS_PORT),
    ...(inputs.otlpEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: inputs.otlpEndpoint } : {}),
  };
  // Where `epu backup` and the worker's daily backup.create job write (the task role's credentials).
  const backupEnv = { BACKUP_STORAGE_URL: pulumi.interpolate`s3://${storage.backups.bucket}`, BACKUP_KEEP: String(settings.backupKeep) };
  // Only the worker copies backups to the second region (its task role alone may reach that bucket).
  const copyEnv: Record<string, pulumi.Input<string>> = storage.backupCopy
    ? { BACKUP_COPY_URL: pulumi.interpolate`s3://${storage.backupCopy.bucket.bucket}`, BACKUP_COPY_S3_REGION: storage.backupCopy.region }
    : {};
  const extraEnv: Record<Component, Record<string, pulumi.Input<string>>> = {
    web: { PORT: String(WEB_PORT), FUNCTIONS_URL: functionsUrl, TRUST_PROXY_HOPS: '1' },
    worker: { FUNCTIONS_URL: functionsUrl, ...backupEnv, ...copyEnv },
    functions: { FUNCTIONS_PORT: String(FUNCTIONS_PORT) },
    migrate: {},
  };
  const sizes: Record<Component, ProcessSize> = {
    web: settings.web,
    worker: settings.worker,
    functions: settings.functions,
    migrate: { cpu: 0.5, memoryMiB: 1024, minInstances: 0, maxInstances: 1 },
  };
  const ports: Partial<Record<Component, number>> = { web: WEB_PORT, functions: FUNCTIONS_PORT };

  const taskDefinitions = {} as Record<Component, aws.ecs.TaskDefinition>;
  for (const component of COMPONENTS) {
    // migrate also runs the pre-deploy snapshot (`epu backup`): the backups bucket, but no STORAGE_URL (no media).
    const env =
      component === 'migrate'
        ? { APP_ENV: settings.appEnv, LOG_LEVEL: settings.logLevel, PUBLIC_URL: publicUrl, S3_REGION: region, ...backupEnv }
        : { ...baseEnv, ...extraEnv[component] };
    const size = fargateSize(sizes[component]);
    const port = ports[component];
    taskDefinitions[component] = new aws.ecs.TaskDefinition(
      `${prefix}-${component}`,
      {
        family: `${prefix}-${component}`,
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: size.cpu,
        memory: size.memory,
        executionRoleArn: roles.execution[component].arn,
        taskRoleArn: roles.task[component].arn,
        runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
        containerDefinitions: pulumi.jsonStringify([
          {
            name: component,
            image,
            essential: true,
            entryPoint: ['epu'],
            command: [component],
            portMappings: port ? [{ containerPort: port, protocol: 'tcp' }] : [],
            environment: Object.entries(env).map(([name, value]) => ({ name, value })),
            secrets: Object.values(secrets)
              .filter((s) => s.readers.includes(component))
              .map((s) => ({ name: s.env, valueFrom: s.secret.arn })),
            // ECS ignores the image's HEALTHCHECK: the same check, for every long-running role (each answers
            // on METRICS_PORT with its own health: web and functions their listener, the worker its heartbeat).
            ...(component === 'migrate' ? {} : { healthCheck: IMAGE_HEALTHCHECK }),
            stopTimeout: 30,
            logConfiguration: {
              logDriver: 'awslogs',
              options: { 'awslogs-group': roles.logGroups[component].name, 'awslogs-region': region, 'awslogs-stream-prefix': component },
            },
          },
        ]),
      },
      opts,
    );
  }

  const network = { subnets: net.privateSubnets.map((s) => s.id), securityGroups: [net.sg.app.id], assignPublicIp: false };
  const service = (component: Exclude<Component, 'migrate'>, extra: Partial<aws.ecs.ServiceArgs>) =>
    new aws.ecs.Service(
      `${prefix}-${component}`,
      {
        name: component,
        cluster: cluster.arn,
        taskDefinition: taskDefinitions[component].arn,
        desiredCount: sizes[component].minInstances,
        capacityProviderStrategies: strategy,
        networkConfiguration: network,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        deploymentMinimumHealthyPercent: 100,
        deploymentMaximumPercent: 200,
        propagateTags: 'SERVICE',
        enableExecuteCommand: false,
        ...extra,
      },
      { ...opts, ignoreChanges: ['desiredCount'] },
    );

  const services = {
    web: service('web', {
      loadBalancers: [{ targetGroupArn: targetGroup.arn, containerName: 'web', containerPort: WEB_PORT }],
      healthCheckGracePeriodSeconds: 60,
    }),
    worker: service('worker', {}),
    functions: service('functions', { serviceRegistries: { registryArn: functionsDiscovery.arn } }),
  };

  for (const [component, svc] of Object.entries(services) as [Exclude<Component, 'migrate'>, aws.ecs.Service][]) {
    const size = sizes[component];
    const resourceId = pulumi.interpolate`service/${cluster.name}/${svc.name}`;
    const target = new aws.appautoscaling.Target(
      `${prefix}-${component}`,
      {
        serviceNamespace: 'ecs',
        scalableDimension: 'ecs:service:DesiredCount',
        resourceId,
        minCapacity: size.minInstances,
        maxCapacity: size.maxInstances,
      },
      opts,
    );
    if (size.maxInstances > size.minInstances) {
      new aws.appautoscaling.Policy(
        `${prefix}-${component}-cpu`,
        {
          policyType: 'TargetTrackingScaling',
          serviceNamespace: target.serviceNamespace,
          scalableDimension: target.scalableDimension,
          resourceId: target.resourceId,
          targetTrackingScalingPolicyConfiguration: {
            targetValue: 60,
            predefinedMetricSpecification: { predefinedMetricType: 'ECSServiceAverageCPUUtilization' },
            scaleInCooldown: 120,
            scaleOutCooldown: 60,
          },
        },
        opts,
      );
    }
    if (settings.offHours) {
      new aws.appautoscaling.ScheduledAction(
        `${prefix}-${component}-stop`,
        {
          serviceNamespace: target.serviceNamespace,
          scalableDimension: target.scalableDimension,
          resourceId: target.resourceId,
          schedule: settings.offHours.stopCron,
          timezone: settings.offHours.timezone,
          scalableTargetAction: { minCapacity: 0, maxCapacity: 0 },
        },
        opts,
      );
      new aws.appautoscaling.ScheduledAction(
        `${prefix}-${component}-start`,
        {
          serviceNamespace: target.serviceNamespace,
          scalableDimension: target.scalableDimension,
          resourceId: target.resourceId,
          schedule: settings.offHours.startCron,
          timezone: settings.offHours.timezone,
          scalableTargetAction: { minCapacity: size.minInstances, maxCapacity: size.maxInstances },
        },
        opts,
      );
    }
  }

  // SECRET_KEY rotation: a small function, allowed to touch only that secret, its own logs and these services.
  const secretKey = secrets['secret-key']!.secret;
  const rotationLogs = new aws.cloudwatch.LogGroup(
    `${prefix}-rotate-secret-key`,
    {
      name: `/aws/lambda/${prefix}-rotate-secret-key`,
      retentionInDays: settings.logRetentionDays,
    },
    opts,
  );
  const rotationRole = new aws.iam.Role(
    `${prefix}-rotate-secret-key`,
    {
      name: `${prefix}-rotate-secret-key`,
      assumeRolePolicy: assumeRole('lambda.amazonaws.com'),
    },
    opts,
  );
  new aws.iam.RolePolicy(
    `${prefix}-rotate-secret-key`,
    {
      role: rotationRole.id,
      policy: policyDocument([
        {
          Sid: 'RotateSecretKey',
          Effect: 'Allow',
          Action: [
            'secretsmanager:DescribeSecret',
            'secretsmanager:GetSecretValue',
            'secretsmanager:PutSecretValue',
            'secretsmanager:UpdateSecretVersionStage',
          ],
          Resource: [secretKey.arn],
        },
        { Sid: 'RollServices', Effect: 'Allow', Action: ['ecs:UpdateService'], Resource: Object.values(services).map((s) => s.arn) },
        {
          Sid: 'WriteLogs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: [pulumi.interpolate`${rotationLogs.arn}:*`],
        },
      ]),
    },
    opts,
  );
  const fn = new aws.lambda.Function(
    `${prefix}-rotate-secret-key`,
    {
      name: `${prefix}-rotate-secret-key`,
      runtime: 'nodejs22.x',
      handler: 'index.handler',
      role: rotationRole.arn,
      timeout: 60,
      code: new pulumi.asset.AssetArchive({ 'index.mjs': new pulumi.asset.StringAsset(SECRET_KEY_ROTATION_CODE) }),
      environment: {
        variables: {
          ECS_CLUSTER: cluster.name,
          ECS_SERVICES: pulumi.all(Object.values(services).map((s) => s.name)).apply((names) => names.join(',')),
          KEEP_KEYS: '3',
        },
      },
      loggingConfig: { logFormat: 'JSON', logGroup: rotationLogs.name },
    },
    opts,
  );
  const invoke = new aws.lambda.Permission(
    `${prefix}-rotate-secret-key`,
    {
      action: 'lambda:InvokeFunction',
      function: fn.name,
      principal: 'secretsmanager.amazonaws.com',
      sourceArn: secretKey.arn,
      sourceAccount: accountId,
    },
    opts,
  );
  const rotation = new aws.secretsmanager.SecretRotation(
    `${prefix}-secret-key`,
    {
      secretId: secretKey.id,
      rotationLambdaArn: fn.arn,
      rotationRules: { automaticallyAfterDays: settings.secretRotationDays },
    },
    { ...opts, dependsOn: [invoke, secrets['secret-key']!.version] },
  );

  return { cluster, alb, targetGroup, taskDefinitions, services, rotation: { fn, role: rotationRole, rotation }, publicUrl, functionsUrl };
}
