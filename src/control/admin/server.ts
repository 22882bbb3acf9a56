// The admin listener (loopback by default): JSON over HTTP on node:http — the control plane, not the hot
// path. This file is the router: auth (auth.ts), body limits, 404/405, writing replies; each resource is one
// file exporting its routes (status, endpoints, reload, metrics, and the dashboard/ with its event stream).
// Reference: docs/admin-api.md.
//
//   request → authorize(method, peer, Authorization, admin.token) → 401
//           → route by path → 404 (lists the routes) → handler by method → 405 (with `allow`)
//           → body: ≤ 64 KiB of JSON → 413 / 400 → handler → reply
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { log } from '../../core/log.ts';
import type { Runtime } from '../runtime.ts';
import { authorize } from './auth.ts';
import { startDashboard } from './dashboard/routes.ts';
import { endpointRoutes } from './endpoints.ts';
import { metricsRoutes } from './metrics.ts';
import { reloadRoutes } from './reload.ts';
import { routeRoutes } from './routes.ts';
import { fail, type AdminRoute, type Method, type Reply, type StreamSink } from './route.ts';
import { statusRoutes } from './status.ts';

export { status } from './status.ts';

/** Request bodies are small JSON documents; anything larger is refused with 413. */
export const maxBodyBytes = 64 * 1024;

export interface AdminServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** `GET /status`, `POST /pools/POOL/endpoints/ADDRESS/drain|enable|disable`, …: one line per method and path. */
export function describeRoutes(routes: readonly AdminRoute[]): string[] {
  return routes.flatMap((r) => Object.keys(r.methods).map((m) => `${m} ${r.path}`));
}

function send(res: http.ServerResponse, reply: Reply, headers: Record<string, string> = {}): void {
  if (reply.stream !== undefined) return openStream(res, reply, reply.stream, headers);
  const text = reply.text ?? JSON.stringify(reply.body, null, 2) + '\n';
  res.writeHead(reply.status, {
    'content-type': reply.text !== undefined ? (reply.contentType ?? 'text/plain; charset=utf-8') : 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...reply.headers,
    ...headers,
  });
  res.end(text);
}

/** A streamed reply: the head now (for HEAD, nothing more), then the body as the handler writes it. */
function openStream(res: http.ServerResponse, reply: Reply, stream: (sink: StreamSink) => void, headers: Record<string, string>): void {
  res.writeHead(reply.status, {
    'content-type': reply.contentType ?? 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    ...reply.headers,
    ...headers,
  });
  if (res.req.method === 'HEAD') return void res.end();
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  // a write racing the client's disconnect fails here; 'close' does the cleanup
  res.on('error', () => undefined);
  stream({
    write: (text) => !res.destroyed && !res.writableEnded && res.write(text),
    get bufferedBytes() {
      return res.writableLength;
    },
    end: () => {
      if (!res.writableEnded) res.end();
    },
    onClose: (fn) => {
      res.once('close', fn);
    },
  });
}

/** The body as JSON (undefined when empty), or the reply refusing it. */
type Body = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly reply: Reply };

function refuse(reply: Reply): Body {
  return { ok: false, reply };
}

/** Past this much, an oversized body is no longer read to its end: the connection is closed instead. */
const maxDiscardBytes = 16 * 1024 * 1024;

/**
 * The body as JSON (undefined when empty), or the reply refusing it. An oversized body is read to its end and
 * dropped before the 413 goes out, so the client, still sending, is not cut off by a reset before it reads
 * the reply.
 */
function readBody(req: http.IncomingMessage): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = Number(req.headers['content-length'] ?? 0) > maxBodyBytes;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) tooBig = true;
      if (size > maxDiscardBytes) req.destroy();
      if (!tooBig) chunks.push(chunk);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (tooBig) return resolve(refuse(fail(413, `the body is ${size} bytes; the admin API takes at most ${maxBodyBytes}`)));
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({ ok: true, body: undefined });
      try {
        resolve({ ok: true, body: JSON.parse(text) as unknown });
      } catch (err) {
        resolve(refuse(fail(400, `malformed JSON body: ${(err as Error).message}`)));
      }
    });
  });
}

async function handle(rt: Runtime, routes: readonly AdminRoute[], req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const path = (req.url ?? '/').split('?', 1)[0];
  const peer = req.socket.remoteAddress;
  const auth = authorize(method, peer, req.headers.authorization, rt.generation.config.admin?.token);
  if (!auth.ok) {
    log('warn', 'admin request refused', { method, path, peer, reason: auth.reason });
    const challenge = auth.reason === 'wrong_token' ? 'Bearer realm="fulcrum", error="invalid_token"' : 'Bearer realm="fulcrum"';
    // the body, if any, is dropped unread; the connection closes after the reply
    req.resume();
    return send(res, fail(401, auth.error), { 'www-authenticate': challenge, connection: 'close' });
  }
  let params: string[] | null = null;
  let route: AdminRoute | undefined;
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (m === null) continue;
    route = r;
    try {
      params = m.slice(1).map((p) => decodeURIComponent(p));
    } catch {
      req.resume();
      return send(res, fail(400, `malformed percent-encoding in ${JSON.stringify(path)}`), { connection: 'close' });
    }
    break;
  }
  if (route === undefined || params === null) {
    req.resume();
    return send(res, { status: 404, body: { ok: false, errors: [`no route for ${method} ${path}`], routes: describeRoutes(routes) } }, { connection: 'close' });
  }
  const handler = route.methods[(method === 'HEAD' ? 'GET' : method) as Method];
  if (handler === undefined) {
    const allow = Object.keys(route.methods);
    if (allow.includes('GET')) allow.push('HEAD');
    req.resume();
    return send(res, fail(405, `${route.path} takes ${allow.join(', ')}, not ${method}`), { allow: allow.join(', '), connection: 'close' });
  }
  const read = await readBody(req);
  if (!read.ok) return send(res, read.reply, { connection: 'close' });
  let reply: Reply;
  try {
    reply = await handler({ params, body: read.body });
  } catch (err) {
    log('error', 'admin request failed', { method, path, error: (err as Error).message });
    reply = fail(500, (err as Error).message);
  }
  send(res, reply);
}

export function startAdmin(rt: Runtime, host: string, port: number): Promise<AdminServer> {
  const dashboard = startDashboard(rt);
  const routes = [...statusRoutes(rt), ...endpointRoutes(rt), ...routeRoutes(rt), ...reloadRoutes(rt), ...metricsRoutes(rt), ...dashboard.routes];
  const server = http.createServer((req, res) => {
    handle(rt, routes, req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, fail(500, err.message));
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    const refused = (err: Error): void => {
      dashboard.close();
      reject(err);
    };
    server.once('error', refused);
    server.listen({ host, port }, () => {
      server.off('error', refused);
      const a = server.address() as AddressInfo;
      resolve({
        address: { host: a.address, port: a.port },
        close: () =>
          new Promise<void>((done) => {
            dashboard.close();
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
