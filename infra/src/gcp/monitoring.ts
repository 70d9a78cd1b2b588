import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs } from '../environments';
import type { GcpDatabase } from './database';
import type { GcpServices } from './services';
import type { GcpStorage } from './storage';

export interface GcpMonitoring {
  channels: gcp.monitoring.NotificationChannel[];
  uptime: gcp.monitoring.UptimeCheckConfig;
  alerts: Record<'latency' | 'errors' | 'dbCpu' | 'dbConnections' | 'bucketErrors' | 'uptime', gcp.monitoring.AlertPolicy>;
  budget: gcp.billing.Budget;
}

const FIVE_MINUTES = '300s';

/** The seeds' alerts, an uptime check on /healthz, and a budget that warns before the money is spent. */
export function createMonitoring(
  inputs: DeployInputs,
  db: GcpDatabase,
  storage: GcpStorage,
  services: GcpServices,
  projectNumber: pulumi.Input<string>,
  opts: pulumi.CustomResourceOptions,
): GcpMonitoring {
  const { prefix, settings } = inputs;
  const project = inputs.gcp!.project;
  const channels = inputs.alertEmails.map(
    (email, i) =>
      new gcp.monitoring.NotificationChannel(
        `${prefix}-email-${i}`,
        {
          displayName: `EPU ${settings.name} alerts: ${email}`,
          type: 'email',
          labels: { email_address: email },
        },
        opts,
      ),
  );
  const notificationChannels = channels.map((c) => c.id);
  const webName = services.web.name;
  const dbId = pulumi.interpolate`${project}:${db.instance.name}`;

  const policy = (key: string, displayName: string, documentation: string, conditions: gcp.types.input.monitoring.AlertPolicyCondition[]) =>
    new gcp.monitoring.AlertPolicy(
      `${prefix}-${key}`,
      {
        displayName: `EPU ${settings.name}: ${displayName}`,
        combiner: 'OR',
        conditions,
        notificationChannels,
        documentation: { content: documentation, mimeType: 'text/markdown' },
        alertStrategy: { autoClose: '1800s' },
        severity: settings.name === 'prod' ? 'CRITICAL' : 'WARNING',
      },
      opts,
    );

  const latency = policy(
    'latency',
    'web p95 latency above 1s for 5 minutes',
    'p95 request latency of the web service stayed above 1 s for 5 minutes. Check the database (slow queries) and instance count.',
    [
      {
        displayName: 'p95 latency > 1000 ms',
        conditionThreshold: {
          filter: pulumi.interpolate`resource.type = "cloud_run_revision" AND resource.labels.service_name = "${webName}" AND metric.type = "run.googleapis.com/request_latencies"`,
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_PERCENTILE_95', crossSeriesReducer: 'REDUCE_MAX' }],
          comparison: 'COMPARISON_GT',
          thresholdValue: 1000,
          duration: FIVE_MINUTES,
        },
      },
    ],
  );

  const errors = policy(
    'errors',
    'web 5xx error rate above 2% for 5 minutes',
    'More than 2% of web responses were 5xx for 5 minutes. Look at the error tracker and the latest rollout.',
    [
      {
        displayName: '5xx rate > 2%',
        conditionPrometheusQueryLanguage: {
          query: pulumi.interpolate`sum(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${webName}",response_code_class="5xx"}[5m])) / sum(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${webName}"}[5m])) > 0.02`,
          duration: FIVE_MINUTES,
          evaluationInterval: '60s',
        },
      },
    ],
  );

  const dbCpu = policy(
    'db-cpu',
    'database CPU above 80%',
    'Cloud SQL CPU above 80% for 5 minutes: look for slow queries, then raise the tier in environments.ts.',
    [
      {
        displayName: 'Cloud SQL CPU > 80%',
        conditionThreshold: {
          filter: pulumi.interpolate`resource.type = "cloudsql_database" AND resource.labels.database_id = "${dbId}" AND metric.type = "cloudsql.googleapis.com/database/cpu/utilization"`,
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MEAN' }],
          comparison: 'COMPARISON_GT',
          thresholdValue: 0.8,
          duration: FIVE_MINUTES,
        },
      },
    ],
  );

  const dbConnections = policy(
    'db-connections',
    'database connections near max',
    'PostgreSQL backends above 80% of max_connections: lower DATABASE_POOL_MAX or max instances, or raise max_connections.',
    [
      {
        displayName: 'connections > 80% of max_connections',
        conditionThreshold: {
          filter: pulumi.interpolate`resource.type = "cloudsql_database" AND resource.labels.database_id = "${dbId}" AND metric.type = "cloudsql.googleapis.com/database/postgresql/num_backends"`,
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX', crossSeriesReducer: 'REDUCE_SUM' }],
          comparison: 'COMPARISON_GT',
          thresholdValue: Math.floor(settings.database.maxConnections * 0.8),
          duration: FIVE_MINUTES,
        },
      },
    ],
  );

  const bucketErrors = policy(
    'bucket-errors',
    'media bucket errors',
    "The media bucket answered errors (other than not-found) for 5 minutes: check the processes' HMAC keys and IAM.",
    [
      {
        displayName: 'media bucket error responses',
        conditionThreshold: {
          filter: pulumi.interpolate`resource.type = "gcs_bucket" AND resource.labels.bucket_name = "${storage.media.name}" AND metric.type = "storage.googleapis.com/api/request_count" AND metric.labels.response_code != "OK" AND metric.labels.response_code != "NOT_FOUND"`,
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }],
          comparison: 'COMPARISON_GT',
          thresholdValue: 1,
          duration: FIVE_MINUTES,
        },
      },
    ],
  );

  const host = services.web.uri.apply((uri) => inputs.webDomain ?? new URL(uri).host);
  const uptime = new gcp.monitoring.UptimeCheckConfig(
    `${prefix}-healthz`,
    {
      displayName: `EPU ${settings.name} /healthz`,
      timeout: '10s',
      period: '60s',
      httpCheck: { path: '/healthz', port: 443, useSsl: true, validateSsl: true, acceptedResponseStatusCodes: [{ statusValue: 200 }] },
      monitoredResource: { type: 'uptime_url', labels: { project_id: project, host } },
    },
    opts,
  );

  const uptimeAlert = policy(
    'uptime',
    '/healthz failing',
    'The public /healthz check fails from several regions: the site is down or cannot reach its database.',
    [
      {
        displayName: '/healthz uptime check failing',
        conditionThreshold: {
          filter: pulumi.interpolate`metric.type = "monitoring.googleapis.com/uptime_check/check_passed" AND resource.type = "uptime_url" AND metric.labels.check_id = "${uptime.uptimeCheckId}"`,
          aggregations: [
            {
              alignmentPeriod: '300s',
              perSeriesAligner: 'ALIGN_NEXT_OLDER',
              crossSeriesReducer: 'REDUCE_COUNT_FALSE',
              groupByFields: ['resource.label.project_id'],
            },
          ],
          comparison: 'COMPARISON_GT',
          thresholdValue: 1,
          duration: FIVE_MINUTES,
        },
      },
    ],
  );

  const budget = new gcp.billing.Budget(
    `${prefix}-budget`,
    {
      billingAccount: inputs.gcp!.billingAccount,
      displayName: `EPU ${settings.name} monthly`,
      budgetFilter: { projects: [pulumi.interpolate`projects/${projectNumber}`], calendarPeriod: 'MONTH' },
      amount: { specifiedAmount: { currencyCode: inputs.budgetCurrency, units: String(settings.budget.monthlyAmount) } },
      thresholdRules: [
        ...settings.budget.thresholds.map((thresholdPercent) => ({ thresholdPercent, spendBasis: 'CURRENT_SPEND' })),
        { thresholdPercent: 1.0, spendBasis: 'FORECASTED_SPEND' },
      ],
      allUpdatesRule: { monitoringNotificationChannels: notificationChannels, disableDefaultIamRecipients: false },
    },
    opts,
  );

  return { channels, uptime, alerts: { latency, errors, dbCpu, dbConnections, bucketErrors, uptime: uptimeAlert }, budget };
}
