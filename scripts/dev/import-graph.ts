// Which process types a change to a source file affects, from the imports
// between the files under src/: a process runs its entrypoint and everything
// that entrypoint imports, directly or not.
import fs from 'node:fs';
import path from 'node:path';

/** Relative specifiers of `import … from`, `export … from`, `import '…'` and `import('…')`. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

export type ImportGraph = Map<string, string[]>;

/** Every .ts file under `srcDir` (tests excluded) with the .ts files it imports, paths relative to `root`. */
export function readImportGraph(root: string, srcDir = 'src'): ImportGraph {
  const graph: ImportGraph = new Map();
  const files = fs
    .readdirSync(path.join(root, srcDir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
    .map((name) => path.join(srcDir, name));
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const imports = [...text.matchAll(IMPORT)].map((match) => path.join(path.dirname(file), match[1]!).replace(/\.js$/, '.ts'));
    graph.set(file, imports);
  }
  return graph;
}

/** The files a process runs when started from `entry`; `except` are files whose imports are not followed beyond them. */
export function closure(graph: ImportGraph, entries: string[], except: (from: string, to: string) => boolean = () => false): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imported of graph.get(file) ?? []) if (!except(file, imported)) queue.push(imported);
  }
  return seen;
}

/**
 * The files `epu <role>` runs: cli.ts (without the other commands it can load)
 * and the role's own entrypoint, with everything they import.
 */
export function filesOfRole(graph: ImportGraph, role: string): Set<string> {
  const cli = 'src/entrypoints/cli.ts';
  return closure(graph, [cli, `src/entrypoints/${role}.ts`], (from, to) => from === cli && to.startsWith('src/entrypoints/'));
}

/** The roles among `roles` that run any of `changed`. */
export function affectedRoles<R extends string>(graph: ImportGraph, roles: readonly R[], changed: string[]): R[] {
  return roles.filter((role) => {
    const files = filesOfRole(graph, role);
    return changed.some((file) => files.has(file));
  });
}
