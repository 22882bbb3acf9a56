// `fast-proxy` in undici mode. One fast-proxy instance owns one undici Pool bound to one origin,
// so round robin is one instance per upstream, taken in turn.
import http from 'node:http';
import fastProxy from 'fast-proxy';
import { readProxyArgs } from './args.ts';

const { port, upstreams } = readProxyArgs();
const proxies = upstreams.map((u) => fastProxy({ base: `http://${u.host}:${u.port}`, undici: { pipelining: 1 } }).proxy);
let next = 0;

http
  .createServer((req, res) => {
    const proxy = proxies[next];
    next = (next + 1) % proxies.length;
    proxy(req, res, req.url ?? '/', {});
  })
  .listen(port, '127.0.0.1');
