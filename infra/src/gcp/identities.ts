import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs } from '../environments';

/** Every EPU process that runs in the cloud, plus the identity CI deploys with. */
export const COMPONENTS = ['web', 'worker', 'functions', 'migrate'] as const;
export type Component = (typeof COMPONENTS)[number];

export type GcpIdentities = Record<Component | 'deployer' | 'events', gcp.serviceaccount.Account>;

/**
 * One service account per component, each starting with no roles at all. Every
 * grant is made on the one resource it is for (a secret, a bucket, a service),
 * never on the project, so a leaked web credential cannot read backups and a
 * leaked worker credential cannot redeploy anything.
 */
export function createIdentities(inputs: DeployInputs, opts: pulumi.CustomResourceOptions): GcpIdentities {
  const { prefix, settings } = inputs;
  const account = (id: Component | 'deployer' | 'events', what: string) =>
    new gcp.serviceaccount.Account(
      `${prefix}-sa-${id}`,
      {
        accountId: `${prefix}-${id}`,
        displayName: `EPU ${settings.name} ${what}`,
      },
      opts,
    );
  return {
    web: account('web', 'web (HTTP)'),
    worker: account('worker', 'worker (jobs and schedules)'),
    functions: account('functions', 'functions (CloudEvents handlers)'),
    migrate: account('migrate', 'migrate (release job)'),
    deployer: account('deployer', 'deployer (CI rolls out new revisions)'),
    events: account('events', 'Eventarc delivery of storage events'),
  };
}

export function member(account: gcp.serviceaccount.Account): pulumi.Output<string> {
  return pulumi.interpolate`serviceAccount:${account.email}`;
}
