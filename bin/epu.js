#!/usr/bin/env node
// The one entry point of every process type; the command picks the role.
import('../dist/src/entrypoints/cli.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src')) {
    console.error('epu: the build output is missing; run `npm run build` (npm install and npm start do it for you)');
    process.exit(1);
  }
  throw error;
});
