// `@fastify/reply-from` on fastify. Given several bases it forwards through undici's BalancedPool,
// which takes the upstreams in turn while they are healthy (round robin at equal weights).
import Fastify from 'fastify';
import replyFrom from '@fastify/reply-from';
import { readProxyArgs } from './args.ts';

const { port, upstreams } = readProxyArgs();
const app = Fastify({ logger: false });
await app.register(replyFrom, { base: upstreams.map((u) => `http://${u.host}:${u.port}`) });
app.get('/*', (request, reply) => reply.from(request.url));
await app.listen({ port, host: '127.0.0.1' });
