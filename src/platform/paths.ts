import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The same module runs from src/ (tests) and dist/src/ (built), so files that
// ship beside the code (migrations, public assets, package.json) are found from
// the package root rather than by a fixed number of "../".
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

export const packageRoot = findPackageRoot();
export const migrationsDir = path.join(packageRoot, 'migrations');
export const publicDir = path.join(packageRoot, 'public');

export const packageJson = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};
