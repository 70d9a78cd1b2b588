// Composition root: builds the platform (clients for the dials) from config,
// hands each feature only what it uses, and closes everything in reverse order.
// Only the entrypoints import it (docs/architecture.md); its parts are in src/app/.
export * from './app/platform.js';
export * from './app/services.js';
export * from './app/jobs.js';
export * from './app/web.js';
