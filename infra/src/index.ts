import * as pulumi from '@pulumi/pulumi';
import { awsOutputs, deployAws } from './aws';
import { settingsFor, type DeployInputs } from './environments';
import { deployGcp, gcpOutputs } from './gcp';

// The program Pulumi runs: read the stack's config, pick the cloud, export what EPU's env vars come from.
const stack = pulumi.getStack();
const config = new pulumi.Config('epu');
const cloud = config.require('cloud');
const settings = settingsFor(stack);
const budgetOverride = config.getNumber('monthlyBudget');
if (budgetOverride !== undefined) settings.budget.monthlyAmount = budgetOverride;

const inputs: DeployInputs = {
  settings,
  prefix: `epu-${stack}`,
  region: config.require('region'),
  backupCopyRegion: config.get('backupCopyRegion'),
  image: config.require('image'),
  alertEmails: config.getObject<string[]>('alertEmails') ?? [],
  webDomain: config.get('webDomain'),
  cdnDomain: config.get('cdnDomain'),
  sentryDsn: config.getSecret('sentryDsn'),
  smtpUrl: config.getSecret('smtpUrl'),
  otlpEndpoint: config.get('otlpEndpoint'),
  budgetCurrency: config.get('budgetCurrency') ?? 'USD',
};

let outputs: Record<string, unknown>;
if (cloud === 'gcp') {
  inputs.gcp = { project: new pulumi.Config('gcp').require('project'), billingAccount: config.require('billingAccount') };
  outputs = gcpOutputs(deployGcp(inputs));
} else if (cloud === 'aws') {
  inputs.aws = {
    availabilityZones: config.getObject<string[]>('availabilityZones') ?? [`${inputs.region}a`, `${inputs.region}b`],
    certificateArn: config.get('certificateArn'),
    vpcCidr: config.get('vpcCidr') ?? '10.20.0.0/16',
  };
  outputs = awsOutputs(deployAws(inputs));
} else {
  throw new Error(`epu:cloud must be gcp or aws, got "${cloud}"`);
}

module.exports = outputs;
