#!/usr/bin/env node
// Canary gate for a progressive rollout: reads the new revision's error rate and
// p95 latency from a Prometheus-compatible HTTP API (Prometheus, or Google Cloud
// Managed Service for Prometheus / Cloud Monitoring's PromQL endpoint) and exits
// non-zero when either is over its SLO, so the deploy job rolls traffic back.
//
//   CANARY_PROMETHEUS_URL   base URL of the API (…/api/v1/query is appended)
//   CANARY_REVISION         the new revision's name (the `revision` label)
//   CANARY_BEARER_TOKEN     optional: Authorization bearer token (e.g. `gcloud auth print-access-token`)
//   CANARY_WINDOW           optional: range of the rate() windows, default 5m
//   CANARY_MAX_ERROR_RATE   optional: default 0.02 (2 %, the alerting SLO)
//   CANARY_MAX_P95_SECONDS  optional: default 1 (the latency SLO)
//   CANARY_MIN_REQUESTS     optional: fewer requests than this in the window is "not enough data",
//                           which fails the gate unless CANARY_ALLOW_NO_TRAFFIC=true; default 50
//   CANARY_ERROR_QUERY / CANARY_P95_QUERY / CANARY_REQUESTS_QUERY
//                           optional PromQL overrides; $REVISION and $WINDOW are substituted
//
// Exit codes: 0 healthy, 1 over an SLO or not enough data, 2 misconfigured or the API unreachable.

const env = process.env;

const DEFAULT_QUERIES = {
  errors:
    'sum(rate(epu_http_requests_total{revision="$REVISION",status=~"5.."}[$WINDOW])) / sum(rate(epu_http_requests_total{revision="$REVISION"}[$WINDOW]))',
  p95: 'histogram_quantile(0.95, sum by (le) (rate(epu_http_request_duration_seconds_bucket{revision="$REVISION"}[$WINDOW])))',
  requests: 'sum(increase(epu_http_requests_total{revision="$REVISION"}[$WINDOW]))',
};

function number(name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) fail(2, `${name}: expected a non-negative number, got "${raw}"`);
  return value;
}

function fail(code, message) {
  process.stderr.write(`canary-gate: ${message}\n`);
  process.exit(code);
}

function report(fields) {
  process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...fields })}\n`);
}

function fillQuery(template, revision, window) {
  return template.replaceAll('$REVISION', revision.replace(/["\\]/g, '\\$&')).replaceAll('$WINDOW', window);
}

/** A scalar from an instant query: the first sample's value, or null when the result is empty or NaN. */
async function query(baseUrl, promql, token) {
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}/api/v1/query`);
  url.searchParams.set('query', promql);
  let response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    fail(2, `could not reach ${url.origin}: ${error.message}`);
  }
  if (!response.ok) fail(2, `${url.origin} answered ${response.status} for ${promql}`);
  const body = await response.json();
  if (body.status !== 'success') fail(2, `query failed: ${body.error ?? 'unknown error'} (${promql})`);
  const sample = body.data?.result?.[0];
  const raw = sample?.value?.[1] ?? (body.data?.resultType === 'scalar' ? body.data.result[1] : undefined);
  if (raw === undefined) return null;
  const value = Number(raw);
  return Number.isNaN(value) ? null : value;
}

async function main() {
  const baseUrl = env.CANARY_PROMETHEUS_URL;
  const revision = env.CANARY_REVISION;
  if (!baseUrl) fail(2, 'CANARY_PROMETHEUS_URL is required');
  if (!revision) fail(2, 'CANARY_REVISION is required');
  const window = env.CANARY_WINDOW || '5m';
  if (!/^\d+[smh]$/.test(window)) fail(2, `CANARY_WINDOW: expected a duration like 5m, got "${window}"`);
  const maxErrorRate = number('CANARY_MAX_ERROR_RATE', 0.02);
  const maxP95 = number('CANARY_MAX_P95_SECONDS', 1);
  const minRequests = number('CANARY_MIN_REQUESTS', 50);
  const allowNoTraffic = ['1', 'true', 'yes'].includes((env.CANARY_ALLOW_NO_TRAFFIC ?? '').toLowerCase());
  const token = env.CANARY_BEARER_TOKEN;

  const q = (name, fallback) => fillQuery(env[name] || fallback, revision, window);
  const [requests, errorRate, p95] = await Promise.all([
    query(baseUrl, q('CANARY_REQUESTS_QUERY', DEFAULT_QUERIES.requests), token),
    query(baseUrl, q('CANARY_ERROR_QUERY', DEFAULT_QUERIES.errors), token),
    query(baseUrl, q('CANARY_P95_QUERY', DEFAULT_QUERIES.p95), token),
  ]);

  const problems = [];
  if ((requests ?? 0) < minRequests) {
    if (!allowNoTraffic) problems.push(`only ${requests ?? 0} requests in ${window} (need ${minRequests} to judge)`);
  } else {
    if (errorRate === null) problems.push('no error-rate data');
    else if (errorRate > maxErrorRate) problems.push(`error rate ${(errorRate * 100).toFixed(2)}% > ${(maxErrorRate * 100).toFixed(2)}%`);
    if (p95 === null) problems.push('no latency data');
    else if (p95 > maxP95) problems.push(`p95 ${p95.toFixed(3)}s > ${maxP95}s`);
  }

  report({
    revision,
    window,
    requests,
    errorRate,
    p95Seconds: p95,
    maxErrorRate,
    maxP95Seconds: maxP95,
    pass: problems.length === 0,
    problems,
  });
  if (problems.length > 0) fail(1, `revision ${revision} failed the gate: ${problems.join('; ')}`);
}

await main();
