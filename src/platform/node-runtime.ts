/**
 * Node's options for EPU's own processes: V8 semi-spaces of 32 MiB instead of
 * Node 20's 16 MiB default. A request allocates many short-lived objects (rows,
 * JSON, HTML, signed links); with the default young generation the scavenger
 * ran so often that it was a sixth of the web's busy CPU in the gallery
 * profile, and each stop-the-world pause held every request in flight
 * (decision 0049). The Dockerfile sets the same; an operator's own
 * `--max-semi-space-size` in NODE_OPTIONS wins.
 */
export const NODE_RUNTIME_OPTIONS = '--max-semi-space-size=32';

/** NODE_OPTIONS for a child process: the given ones, with EPU's young generation unless they set their own. */
export function withRuntimeOptions(nodeOptions: string | undefined): string {
  if (nodeOptions?.includes('--max-semi-space-size')) return nodeOptions;
  return nodeOptions?.trim() ? `${nodeOptions.trim()} ${NODE_RUNTIME_OPTIONS}` : NODE_RUNTIME_OPTIONS;
}
