// A plain Fastify route, no plugins, no logger: what EPU's /livez (with every
// production hook: logs, metrics, security headers, request ids) is held to.
import Fastify from 'fastify';

const app = Fastify();
app.get('/livez', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.stdout.write('fastify ready\n');
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
