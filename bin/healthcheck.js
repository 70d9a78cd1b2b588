#!/usr/bin/env node
// The container HEALTHCHECK of every long-running role (web, worker, functions):
// asks the process's operations port (METRICS_PORT) for /healthz, where each
// role reports its own health (web and functions relay their listener's
// /healthz; the worker its heartbeat and database). Exits 0 when healthy, 1
// otherwise, and prints the answer so `docker inspect` shows the failing check.
// Loads nothing from the app: it must stay cheap at one run per interval.
const port = process.env.METRICS_PORT || '9464';
try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  console.log(`${response.status} ${await response.text()}`);
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.log(`no answer on METRICS_PORT ${port}: ${error.cause?.message ?? error.message}`);
  process.exit(1);
}
