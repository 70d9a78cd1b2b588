/**
 * Node's options for the processes of `epu start`: V8 semi-spaces of 32 MiB
 * instead of the 16 MiB Node 20 gives a process without a memory limit. A
 * request allocates many short-lived objects (rows, JSON, HTML, signed links);
 * with the default young generation the scavenger was a sixth of the web's
 * busy CPU in the gallery profile, and each of its pauses held every request
 * in flight (decision 0049). The image sets nothing: in a container Node sizes
 * the young generation from the memory limit itself (32 MiB semi-spaces at
 * 2 GiB, 1 MiB at 512 MiB), and a fixed size would be too much for the small
 * ones and too little for the large. An operator's own semi-space size wins.
 */
export const NODE_RUNTIME_OPTIONS = '--max-semi-space-size=32';

/** NODE_OPTIONS for a child process: the given ones, with EPU's young generation unless they set their own. */
export function withRuntimeOptions(nodeOptions: string | undefined): string {
  // V8 takes its flags with dashes or underscores.
  if (nodeOptions && /--max[-_]semi[-_]space[-_]size/.test(nodeOptions)) return nodeOptions;
  return nodeOptions?.trim() ? `${nodeOptions.trim()} ${NODE_RUNTIME_OPTIONS}` : NODE_RUNTIME_OPTIONS;
}
