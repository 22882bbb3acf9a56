// `http-proxy` (node-http-proxy) with a keep-alive agent, round robin over the upstreams.
// Without an agent http-proxy sends `Connection: close` upstream, which would measure connection setup instead.
import http from 'node:http';
import httpProxy from 'http-proxy';
import { readProxyArgs } from './args.ts';

const { port, upstreams } = readProxyArgs();
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ agent, xfwd: false });
// Pre-parsed targets: a string target is re-parsed with url.parse on every request.
const targets = upstreams.map((u) => ({ protocol: 'http:', host: u.host, hostname: u.host, port: u.port }));
let next = 0;

proxy.on('error', (_error, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) {
    res.writeHead(502);
    res.end();
  }
});

http
  .createServer((req, res) => {
    const target = targets[next];
    next = (next + 1) % targets.length;
    proxy.web(req, res, { target });
  })
  .listen(port, '127.0.0.1');
