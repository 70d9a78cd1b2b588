import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs } from '../environments';

export interface GcpNetwork {
  network: gcp.compute.Network;
  connectorSubnet: gcp.compute.Subnetwork;
  privateServiceRange: gcp.compute.GlobalAddress;
  privateServiceConnection: gcp.servicenetworking.Connection;
  connector: gcp.vpcaccess.Connector;
  router: gcp.compute.Router;
  nat: gcp.compute.RouterNat;
}

/**
 * A private network for the database and Redis, reached from Cloud Run through a
 * Serverless VPC connector. Cloud SQL and Memorystore get addresses from a
 * private services range, so neither ever needs a public address. Cloud NAT gives
 * the processes a way out (mail, Sentry) once all their egress goes through the VPC.
 */
export function createNetwork(inputs: DeployInputs, opts: pulumi.CustomResourceOptions): GcpNetwork {
  const { prefix, region } = inputs;
  const network = new gcp.compute.Network(
    `${prefix}-vpc`,
    {
      name: `${prefix}-vpc`,
      autoCreateSubnetworks: false,
      routingMode: 'REGIONAL',
    },
    opts,
  );

  const connectorSubnet = new gcp.compute.Subnetwork(
    `${prefix}-connector`,
    {
      name: `${prefix}-connector`,
      region,
      network: network.id,
      ipCidrRange: '10.8.0.0/28',
      // Lets traffic to *.run.app and Google APIs stay on Google's network.
      privateIpGoogleAccess: true,
    },
    opts,
  );

  const privateServiceRange = new gcp.compute.GlobalAddress(
    `${prefix}-private-services`,
    {
      name: `${prefix}-private-services`,
      purpose: 'VPC_PEERING',
      addressType: 'INTERNAL',
      prefixLength: 16,
      network: network.id,
    },
    opts,
  );

  const privateServiceConnection = new gcp.servicenetworking.Connection(
    `${prefix}-private-services`,
    {
      network: network.id,
      service: 'servicenetworking.googleapis.com',
      reservedPeeringRanges: [privateServiceRange.name],
    },
    opts,
  );

  const small = inputs.settings.name !== 'prod';
  const connector = new gcp.vpcaccess.Connector(
    `${prefix}-connector`,
    {
      name: `${inputs.settings.name}-connector`,
      region,
      subnet: { name: connectorSubnet.name },
      machineType: small ? 'e2-micro' : 'e2-standard-4',
      minInstances: 2,
      maxInstances: small ? 3 : 6,
    },
    opts,
  );

  const router = new gcp.compute.Router(
    `${prefix}-router`,
    {
      name: `${prefix}-router`,
      region,
      network: network.id,
    },
    opts,
  );

  const nat = new gcp.compute.RouterNat(
    `${prefix}-nat`,
    {
      name: `${prefix}-nat`,
      region,
      router: router.name,
      natIpAllocateOption: 'AUTO_ONLY',
      sourceSubnetworkIpRangesToNat: 'ALL_SUBNETWORKS_ALL_IP_RANGES',
      logConfig: { enable: true, filter: 'ERRORS_ONLY' },
    },
    opts,
  );

  return { network, connectorSubnet, privateServiceRange, privateServiceConnection, connector, router, nat };
}
