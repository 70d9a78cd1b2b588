import * as pulumi from '@pulumi/pulumi';
import { settingsFor, type DeployInputs, type StackName } from '../src/environments';

export interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** The resource's ignoreChanges option (mocks do not pass options on; read off the registration request). */
  ignoreChanges: string[];
  /** `urn::id` of the provider instance that manages it, when not the default one. */
  provider?: string;
}

const FAKE_ACCOUNT = '123456789012';
const FAKE_PROJECT_NUMBER = '424242424242';

/** Values a real provider would compute, so programs that read them (ARNs, emails, URLs) see something plausible. */
function computed(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = { name: inputs.name ?? name };
  if (type.startsWith('aws:')) out.arn = `arn:aws:${type.split(':')[1]!.split('/')[0]}:eu-west-2:${FAKE_ACCOUNT}:${name}`;
  if (type === 'aws:s3/bucket:Bucket') {
    out.bucket = `${inputs.bucketPrefix ?? name}mock`;
    out.bucketRegionalDomainName = `${out.bucket}.s3.eu-west-2.amazonaws.com`;
  }
  if (type === 'aws:lb/loadBalancer:LoadBalancer') {
    out.dnsName = `${name}.eu-west-2.elb.amazonaws.com`;
    out.arnSuffix = `app/${name}/abc`;
  }
  if (type === 'aws:lb/targetGroup:TargetGroup') out.arnSuffix = `targetgroup/${name}/abc`;
  if (type === 'aws:cloudfront/distribution:Distribution') out.domainName = 'd111111abcdef8.cloudfront.net';
  if (type === 'aws:rds/instance:Instance') {
    out.address = `${name}.rds.amazonaws.com`;
    out.port = 5432;
  }
  if (type === 'aws:ecr/repository:Repository') out.repositoryUrl = `${FAKE_ACCOUNT}.dkr.ecr.eu-west-2.amazonaws.com/${inputs.name}`;
  if (type === 'gcp:serviceaccount/account:Account') {
    out.email = `${inputs.accountId}@epu-test.iam.gserviceaccount.com`;
    out.name = `projects/epu-test/serviceAccounts/${out.email}`;
  }
  if (type.startsWith('gcp:cloudrunv2/')) out.uri = `https://${inputs.name}-${FAKE_PROJECT_NUMBER}.europe-west2.run.app`;
  if (type === 'gcp:sql/databaseInstance:DatabaseInstance') {
    out.privateIpAddress = '10.1.0.3';
    out.connectionName = `epu-test:europe-west2:${inputs.name}`;
  }
  if (type === 'gcp:storage/hmacKey:HmacKey') {
    out.accessId = `GOOG1E${name}`;
    out.secret = `secret-${name}`;
  }
  if (type === 'gcp:compute/globalAddress:GlobalAddress') out.address = '203.0.113.10';
  if (type === 'gcp:redis/instance:Instance') {
    out.host = '10.2.0.4';
    out.port = 6378;
    out.authString = 'auth';
  }
  if (type === 'gcp:secretmanager/secret:Secret') out.secretId = inputs.secretId;
  if (type === 'gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig') out.uptimeCheckId = `${name}-check`;
  if (type === 'random:index/randomPassword:RandomPassword') out.result = 'x'.repeat(inputs.length ?? 32);
  return out;
}

async function settle(recorded: Recorded[]): Promise<void> {
  let last = -1;
  let stable = 0;
  while (stable < 5) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (recorded.length === last) stable += 1;
    else {
      stable = 0;
      last = recorded.length;
    }
  }
}

/**
 * Runs a program under Pulumi's mocks (no cloud account, no CLI, no network) and
 * returns every resource it registered with its fully resolved inputs.
 */
export async function deployUnderMocks(stack: StackName, program: () => unknown): Promise<Recorded[]> {
  const recorded: Recorded[] = [];
  const ignored = new Map<string, string[]>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        recorded.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          ignoreChanges: ignored.get(`${args.type}::${args.name}`) ?? [],
          provider: args.provider,
        });
        return { id: `${args.name}-id`, state: { ...args.inputs, ...computed(args.type, args.name, args.inputs) } };
      },
      call(args) {
        switch (args.token) {
          case 'aws:index/getCallerIdentity:getCallerIdentity':
            return { accountId: FAKE_ACCOUNT, arn: `arn:aws:iam::${FAKE_ACCOUNT}:user/test`, userId: 'test' };
          case 'gcp:organizations/getProject:getProject':
            return { number: FAKE_PROJECT_NUMBER, projectId: 'epu-test' };
          case 'gcp:storage/getProjectServiceAccount:getProjectServiceAccount':
            return { emailAddress: `service-${FAKE_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com` };
          default:
            throw new Error(`unmocked call ${args.token}`);
        }
      },
    },
    'epu',
    stack,
    false,
  );
  // The mock monitor hands newResource only type, name and inputs; keep each request's ignoreChanges on the side.
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: unknown) => {
    ignored.set(`${req.getType()}::${req.getName()}`, req.getIgnorechangesList());
    return register(req, callback);
  };
  program();
  await settle(recorded);
  return recorded;
}

export function inputsFor(stack: StackName, cloud: 'gcp' | 'aws'): DeployInputs {
  const base: DeployInputs = {
    settings: settingsFor(stack),
    prefix: `epu-${stack}`,
    region: cloud === 'gcp' ? 'europe-west2' : 'eu-west-2',
    backupCopyRegion: cloud === 'gcp' ? 'europe-west1' : 'eu-west-1',
    image: 'registry.example/epu:test',
    alertEmails: ['ops@example.com'],
    sentryDsn: 'https://key@sentry.example/1',
    smtpUrl: 'smtp://user:pass@mail.example:587',
    budgetCurrency: cloud === 'gcp' ? 'GBP' : 'USD',
  };
  if (cloud === 'gcp') base.gcp = { project: 'epu-test', billingAccount: '000000-000000-000000' };
  else
    base.aws = {
      availabilityZones: ['eu-west-2a', 'eu-west-2b'],
      vpcCidr: '10.20.0.0/16',
      certificateArn: 'arn:aws:acm:eu-west-2:123456789012:certificate/test',
    };
  return base;
}

export function ofType(resources: Recorded[], type: string): Recorded[] {
  return resources.filter((r) => r.type === type);
}

export function one(resources: Recorded[], type: string, name?: string): Recorded {
  const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

/** Mocks hand secret inputs over still wrapped; this reads the value inside. */
export function plain(value: unknown): unknown {
  if (value && typeof value === 'object' && '4dabf18193072939515e22adb298388d' in value)
    return (value as unknown as { value: unknown }).value;
  return value;
}
