import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs } from '../environments';

export interface AwsNetwork {
  vpc: aws.ec2.Vpc;
  publicSubnets: aws.ec2.Subnet[];
  privateSubnets: aws.ec2.Subnet[];
  sg: { alb: aws.ec2.SecurityGroup; app: aws.ec2.SecurityGroup; db: aws.ec2.SecurityGroup; redis: aws.ec2.SecurityGroup };
}

/**
 * A VPC per environment: the load balancer in public subnets, everything else in
 * private subnets that reach out through one NAT gateway. The database and Redis
 * accept connections only from the application's security group.
 */
export function createNetwork(inputs: DeployInputs, opts: pulumi.CustomResourceOptions): AwsNetwork {
  const { prefix } = inputs;
  const { availabilityZones: azs, vpcCidr } = inputs.aws!;
  const base = vpcCidr.split('.').slice(0, 2).join('.');
  const tags = (name: string) => ({ Name: `${prefix}-${name}` });

  const vpc = new aws.ec2.Vpc(
    `${prefix}-vpc`,
    { cidrBlock: vpcCidr, enableDnsHostnames: true, enableDnsSupport: true, tags: tags('vpc') },
    opts,
  );
  const igw = new aws.ec2.InternetGateway(`${prefix}-igw`, { vpcId: vpc.id, tags: tags('igw') }, opts);

  const publicSubnets = azs.map(
    (az, i) =>
      new aws.ec2.Subnet(
        `${prefix}-public-${i}`,
        {
          vpcId: vpc.id,
          availabilityZone: az,
          cidrBlock: `${base}.${i}.0/24`,
          mapPublicIpOnLaunch: false,
          tags: tags(`public-${az}`),
        },
        opts,
      ),
  );
  const privateSubnets = azs.map(
    (az, i) =>
      new aws.ec2.Subnet(
        `${prefix}-private-${i}`,
        {
          vpcId: vpc.id,
          availabilityZone: az,
          cidrBlock: `${base}.${100 + i}.0/24`,
          mapPublicIpOnLaunch: false,
          tags: tags(`private-${az}`),
        },
        opts,
      ),
  );

  const publicRoutes = new aws.ec2.RouteTable(
    `${prefix}-public`,
    {
      vpcId: vpc.id,
      routes: [{ cidrBlock: '0.0.0.0/0', gatewayId: igw.id }],
      tags: tags('public'),
    },
    opts,
  );
  publicSubnets.forEach(
    (s, i) => new aws.ec2.RouteTableAssociation(`${prefix}-public-${i}`, { subnetId: s.id, routeTableId: publicRoutes.id }, opts),
  );

  const eip = new aws.ec2.Eip(`${prefix}-nat`, { domain: 'vpc', tags: tags('nat') }, opts);
  const nat = new aws.ec2.NatGateway(`${prefix}-nat`, { subnetId: publicSubnets[0]!.id, allocationId: eip.id, tags: tags('nat') }, opts);
  const privateRoutes = new aws.ec2.RouteTable(
    `${prefix}-private`,
    {
      vpcId: vpc.id,
      routes: [{ cidrBlock: '0.0.0.0/0', natGatewayId: nat.id }],
      tags: tags('private'),
    },
    opts,
  );
  privateSubnets.forEach(
    (s, i) => new aws.ec2.RouteTableAssociation(`${prefix}-private-${i}`, { subnetId: s.id, routeTableId: privateRoutes.id }, opts),
  );

  const egressAll = [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], description: 'outbound' }];
  const alb = new aws.ec2.SecurityGroup(
    `${prefix}-alb`,
    {
      vpcId: vpc.id,
      description: 'EPU load balancer: HTTPS from anywhere',
      ingress: [
        { protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: ['0.0.0.0/0'], description: 'HTTPS' },
        { protocol: 'tcp', fromPort: 80, toPort: 80, cidrBlocks: ['0.0.0.0/0'], description: 'HTTP, redirected to HTTPS' },
      ],
      egress: [{ protocol: 'tcp', fromPort: 3000, toPort: 3000, cidrBlocks: [vpcCidr], description: 'to web tasks' }],
      tags: tags('alb'),
    },
    opts,
  );
  const app = new aws.ec2.SecurityGroup(
    `${prefix}-app`,
    {
      vpcId: vpc.id,
      description: 'EPU tasks: web from the load balancer, functions from other tasks',
      ingress: [
        { protocol: 'tcp', fromPort: 3000, toPort: 3000, securityGroups: [alb.id], description: 'web from ALB' },
        { protocol: 'tcp', fromPort: 8081, toPort: 8081, self: true, description: 'functions from web and worker' },
      ],
      egress: egressAll,
      tags: tags('app'),
    },
    opts,
  );
  const db = new aws.ec2.SecurityGroup(
    `${prefix}-db`,
    {
      vpcId: vpc.id,
      description: 'EPU PostgreSQL: only from EPU tasks',
      ingress: [{ protocol: 'tcp', fromPort: 5432, toPort: 5432, securityGroups: [app.id], description: 'PostgreSQL from tasks' }],
      egress: [],
      tags: tags('db'),
    },
    opts,
  );
  const redis = new aws.ec2.SecurityGroup(
    `${prefix}-redis`,
    {
      vpcId: vpc.id,
      description: 'EPU Redis: only from EPU tasks',
      ingress: [{ protocol: 'tcp', fromPort: 6379, toPort: 6379, securityGroups: [app.id], description: 'Redis from tasks' }],
      egress: [],
      tags: tags('redis'),
    },
    opts,
  );

  return { vpc, publicSubnets, privateSubnets, sg: { alb, app, db, redis } };
}
