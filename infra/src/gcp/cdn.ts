import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { DeployInputs } from '../environments';
import { PUBLIC_MEDIA_PREFIX, type GcpStorage } from './storage';

export interface GcpCdn {
  serviceAccount: gcp.serviceaccount.Account;
  hmacKey: gcp.storage.HmacKey;
  address: gcp.compute.GlobalAddress;
  backend: gcp.compute.BackendService;
  urlMap: gcp.compute.URLMap;
  /** CDN_BASE_URL. */
  baseUrl: pulumi.Output<string>;
}

/**
 * Cloud CDN for public media without a public bucket: an external HTTPS load
 * balancer whose origin is the bucket's XML endpoint, and Cloud CDN's private
 * origin authentication signs each fill with the HMAC key of a service account
 * that may read only objects under `derived/`. Originals are unreadable through
 * the CDN, and the bucket never gets an allUsers binding.
 */
export function createCdn(inputs: DeployInputs, storage: GcpStorage, opts: pulumi.CustomResourceOptions): GcpCdn {
  const { prefix, settings } = inputs;

  const serviceAccount = new gcp.serviceaccount.Account(
    `${prefix}-sa-cdn`,
    {
      accountId: `${prefix}-cdn`,
      displayName: `EPU ${settings.name} CDN origin reader`,
    },
    opts,
  );

  new gcp.storage.BucketIAMMember(
    `${prefix}-cdn-reads-derived`,
    {
      bucket: storage.media.name,
      role: 'roles/storage.objectViewer',
      member: pulumi.interpolate`serviceAccount:${serviceAccount.email}`,
      condition: {
        title: 'derived-only',
        description: 'The CDN may read derived images, never originals',
        expression: pulumi.interpolate`resource.name.startsWith("projects/_/buckets/${storage.media.name}/objects/${PUBLIC_MEDIA_PREFIX}")`,
      },
    },
    opts,
  );

  const hmacKey = new gcp.storage.HmacKey(`${prefix}-cdn-hmac`, { serviceAccountEmail: serviceAccount.email }, opts);

  const neg = new gcp.compute.GlobalNetworkEndpointGroup(
    `${prefix}-media-origin`,
    {
      name: `${prefix}-media-origin`,
      networkEndpointType: 'INTERNET_FQDN_PORT',
      defaultPort: 443,
    },
    opts,
  );
  const originHost = pulumi.interpolate`${storage.media.name}.storage.googleapis.com`;
  new gcp.compute.GlobalNetworkEndpoint(
    `${prefix}-media-origin`,
    {
      globalNetworkEndpointGroup: neg.name,
      fqdn: originHost,
      port: 443,
    },
    opts,
  );

  const backend = new gcp.compute.BackendService(
    `${prefix}-media-cdn`,
    {
      name: `${prefix}-media-cdn`,
      protocol: 'HTTPS',
      loadBalancingScheme: 'EXTERNAL_MANAGED',
      enableCdn: true,
      backends: [{ group: neg.id }],
      customRequestHeaders: [pulumi.interpolate`Host: ${originHost}`],
      securitySettings: {
        awsV4Authentication: {
          accessKeyId: hmacKey.accessId,
          accessKey: hmacKey.secret,
          originRegion: 'auto',
        },
      },
      cdnPolicy: {
        cacheMode: 'FORCE_CACHE_ALL',
        defaultTtl: 86400,
        maxTtl: 31536000,
        clientTtl: 86400,
        negativeCaching: true,
        serveWhileStale: 86400,
        cacheKeyPolicy: { includeHost: false, includeProtocol: false, includeQueryString: false },
      },
      logConfig: { enable: true, sampleRate: settings.name === 'prod' ? 0.1 : 1 },
    },
    opts,
  );

  const address = new gcp.compute.GlobalAddress(`${prefix}-media-cdn`, { name: `${prefix}-media-cdn` }, opts);

  // Only derived images are routed to the bucket; anything else gets a 404 from an empty path.
  const urlMap = new gcp.compute.URLMap(
    `${prefix}-media-cdn`,
    {
      name: `${prefix}-media-cdn`,
      defaultUrlRedirect: { stripQuery: true, hostRedirect: 'invalid.invalid', redirectResponseCode: 'FOUND' },
      hostRules: [{ hosts: ['*'], pathMatcher: 'media' }],
      pathMatchers: [
        {
          name: 'media',
          defaultUrlRedirect: { stripQuery: true, hostRedirect: 'invalid.invalid', redirectResponseCode: 'FOUND' },
          pathRules: [{ paths: [`/${PUBLIC_MEDIA_PREFIX}*`], service: backend.id }],
        },
      ],
    },
    opts,
  );

  let baseUrl: pulumi.Output<string>;
  if (inputs.cdnDomain) {
    const cert = new gcp.compute.ManagedSslCertificate(
      `${prefix}-media-cdn`,
      {
        name: `${prefix}-media-cdn`,
        managed: { domains: [inputs.cdnDomain] },
      },
      opts,
    );
    const proxy = new gcp.compute.TargetHttpsProxy(
      `${prefix}-media-cdn`,
      {
        name: `${prefix}-media-cdn`,
        urlMap: urlMap.id,
        sslCertificates: [cert.id],
      },
      opts,
    );
    new gcp.compute.GlobalForwardingRule(
      `${prefix}-media-cdn-https`,
      {
        name: `${prefix}-media-cdn-https`,
        target: proxy.id,
        ipAddress: address.address,
        portRange: '443',
        loadBalancingScheme: 'EXTERNAL_MANAGED',
      },
      opts,
    );
    baseUrl = pulumi.output(`https://${inputs.cdnDomain}`);
  } else {
    // Without a domain there is no certificate to be had; the CDN answers plain HTTP on its address.
    const proxy = new gcp.compute.TargetHttpProxy(`${prefix}-media-cdn`, { name: `${prefix}-media-cdn`, urlMap: urlMap.id }, opts);
    new gcp.compute.GlobalForwardingRule(
      `${prefix}-media-cdn-http`,
      {
        name: `${prefix}-media-cdn-http`,
        target: proxy.id,
        ipAddress: address.address,
        portRange: '80',
        loadBalancingScheme: 'EXTERNAL_MANAGED',
      },
      opts,
    );
    baseUrl = pulumi.interpolate`http://${address.address}`;
  }

  return { serviceAccount, hmacKey, address, backend, urlMap, baseUrl };
}
