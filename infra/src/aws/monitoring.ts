import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs } from '../environments';
import type { AwsDatabase } from './database';
import { policyDocument } from './policy';
import type { AwsServices } from './services';
import type { AwsStorage } from './storage';

export interface AwsMonitoring {
  topic: aws.sns.Topic;
  alarms: Record<'latency' | 'errors' | 'dbCpu' | 'dbConnections' | 'bucketErrors' | 'unhealthy', aws.cloudwatch.MetricAlarm>;
  budget: aws.budgets.Budget;
}

/** The seeds' alarms on CloudWatch, sent to one SNS topic, and a monthly budget for the environment. */
export function createMonitoring(
  inputs: DeployInputs,
  db: AwsDatabase,
  storage: AwsStorage,
  svc: AwsServices,
  accountId: pulumi.Input<string>,
  opts: pulumi.CustomResourceOptions,
): AwsMonitoring {
  const { prefix, settings } = inputs;
  const topic = new aws.sns.Topic(`${prefix}-alerts`, { name: `${prefix}-alerts`, kmsMasterKeyId: 'alias/aws/sns' }, opts);
  new aws.sns.TopicPolicy(
    `${prefix}-alerts`,
    {
      arn: topic.arn,
      policy: policyDocument([
        {
          Sid: 'AlarmsAndBudgetsPublish',
          Effect: 'Allow',
          Principal: { Service: ['cloudwatch.amazonaws.com', 'budgets.amazonaws.com'] },
          Action: ['sns:Publish'],
          Resource: [topic.arn],
          Condition: { StringEquals: { 'aws:SourceAccount': accountId } },
        },
      ]),
    },
    opts,
  );
  inputs.alertEmails.forEach(
    (email, i) => new aws.sns.TopicSubscription(`${prefix}-alerts-${i}`, { topic: topic.arn, protocol: 'email', endpoint: email }, opts),
  );

  const actions = { alarmActions: [topic.arn], okActions: [topic.arn] };
  const alb = { LoadBalancer: svc.alb.arnSuffix, TargetGroup: svc.targetGroup.arnSuffix };
  const dbDims = { DBInstanceIdentifier: db.instance.identifier };
  const fiveMinutes = { period: 60, evaluationPeriods: 5, datapointsToAlarm: 5 };

  const latency = new aws.cloudwatch.MetricAlarm(
    `${prefix}-latency`,
    {
      name: `${prefix}-web-p95-latency`,
      alarmDescription: 'p95 web latency above 1 s for 5 minutes',
      namespace: 'AWS/ApplicationELB',
      metricName: 'TargetResponseTime',
      dimensions: alb,
      extendedStatistic: 'p95',
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 1,
      treatMissingData: 'notBreaching',
      ...fiveMinutes,
      ...actions,
    },
    opts,
  );

  const errors = new aws.cloudwatch.MetricAlarm(
    `${prefix}-errors`,
    {
      name: `${prefix}-web-5xx-rate`,
      alarmDescription: 'more than 2% of web responses were 5xx for 5 minutes',
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0.02,
      treatMissingData: 'notBreaching',
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
      metricQueries: [
        { id: 'rate', expression: '(target5xx + elb5xx) / MAX([requests, 1])', label: '5xx share', returnData: true },
        {
          id: 'target5xx',
          metric: { namespace: 'AWS/ApplicationELB', metricName: 'HTTPCode_Target_5XX_Count', dimensions: alb, period: 60, stat: 'Sum' },
        },
        {
          id: 'elb5xx',
          metric: {
            namespace: 'AWS/ApplicationELB',
            metricName: 'HTTPCode_ELB_5XX_Count',
            dimensions: { LoadBalancer: svc.alb.arnSuffix },
            period: 60,
            stat: 'Sum',
          },
        },
        {
          id: 'requests',
          metric: { namespace: 'AWS/ApplicationELB', metricName: 'RequestCount', dimensions: alb, period: 60, stat: 'Sum' },
        },
      ],
      ...actions,
    },
    opts,
  );

  const dbCpu = new aws.cloudwatch.MetricAlarm(
    `${prefix}-db-cpu`,
    {
      name: `${prefix}-db-cpu`,
      alarmDescription: 'RDS CPU above 80% for 5 minutes',
      namespace: 'AWS/RDS',
      metricName: 'CPUUtilization',
      dimensions: dbDims,
      statistic: 'Average',
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 80,
      ...fiveMinutes,
      ...actions,
    },
    opts,
  );

  const dbConnections = new aws.cloudwatch.MetricAlarm(
    `${prefix}-db-connections`,
    {
      name: `${prefix}-db-connections`,
      alarmDescription: 'RDS connections above 80% of max_connections',
      namespace: 'AWS/RDS',
      metricName: 'DatabaseConnections',
      dimensions: dbDims,
      statistic: 'Maximum',
      comparisonOperator: 'GreaterThanThreshold',
      threshold: Math.floor(settings.database.maxConnections * 0.8),
      ...fiveMinutes,
      ...actions,
    },
    opts,
  );

  const bucketErrors = new aws.cloudwatch.MetricAlarm(
    `${prefix}-bucket-errors`,
    {
      name: `${prefix}-media-bucket-5xx`,
      alarmDescription: 'the media bucket answered 5xx errors for 5 minutes',
      namespace: 'AWS/S3',
      metricName: '5xxErrors',
      dimensions: { BucketName: storage.media.bucket, FilterId: 'EntireBucket' },
      statistic: 'Sum',
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 5,
      treatMissingData: 'notBreaching',
      ...fiveMinutes,
      ...actions,
    },
    opts,
  );

  const unhealthy = new aws.cloudwatch.MetricAlarm(
    `${prefix}-unhealthy`,
    {
      name: `${prefix}-web-no-healthy-targets`,
      alarmDescription: 'no web task passes /healthz',
      namespace: 'AWS/ApplicationELB',
      metricName: 'HealthyHostCount',
      dimensions: alb,
      statistic: 'Minimum',
      comparisonOperator: 'LessThanThreshold',
      threshold: 1,
      treatMissingData: settings.offHours ? 'notBreaching' : 'breaching',
      period: 60,
      evaluationPeriods: 3,
      ...actions,
    },
    opts,
  );

  const budget = new aws.budgets.Budget(
    `${prefix}-budget`,
    {
      name: `${prefix}-monthly`,
      budgetType: 'COST',
      timeUnit: 'MONTHLY',
      limitAmount: String(settings.budget.monthlyAmount),
      limitUnit: inputs.budgetCurrency,
      // Counts what is tagged env=<stack>; activate "env" as a cost allocation tag once per account.
      costFilters: [{ name: 'TagKeyValue', values: [`user:env$${settings.name}`] }],
      notifications: [
        ...settings.budget.thresholds.map((t) => ({
          comparisonOperator: 'GREATER_THAN',
          notificationType: 'ACTUAL',
          threshold: t * 100,
          thresholdType: 'PERCENTAGE',
          subscriberSnsTopicArns: [topic.arn],
          subscriberEmailAddresses: inputs.alertEmails,
        })),
        {
          comparisonOperator: 'GREATER_THAN',
          notificationType: 'FORECASTED',
          threshold: 100,
          thresholdType: 'PERCENTAGE',
          subscriberSnsTopicArns: [topic.arn],
          subscriberEmailAddresses: inputs.alertEmails,
        },
      ],
    },
    opts,
  );

  return { topic, alarms: { latency, errors, dbCpu, dbConnections, bucketErrors, unhealthy }, budget };
}
