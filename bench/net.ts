// Loopback helpers: pick free ports, wait until a started process listens, and check one response
// before load, so a target that answers wrongly is reported as failed instead of timed.
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import type { Launched } from './processes.ts';

export const HOST = '127.0.0.1';

/** A port the kernel just handed out on 127.0.0.1; free again once we close it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves once `port` accepts; rejects with the log's telling line if `launched` ends or time runs out. */
export async function waitForListening(port: number, launched: Launched, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (launched.exitReason !== undefined) {
      throw new Error(`${launched.name} ended (${launched.exitReason}) before listening${explain(launched.logPath)}`);
    }
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${launched.name} did not listen on ${HOST}:${port} within ${timeoutMs} ms${explain(launched.logPath)}`);
}

/**
 * ": <first error-looking line>" then the log's last lines, indented. The first line of the message is
 * what a results table shows, so it carries the cause (Node's "Error [ERR_…]", NGINX "[emerg]", HAProxy "[ALERT]").
 */
function explain(path: string, tailLines = 6): string {
  let lines: string[];
  try {
    lines = readFileSync(path, 'utf8').trim().split('\n').filter((line) => line.trim() !== '');
  } catch {
    return '';
  }
  if (lines.length === 0) return '';
  const telling = lines.find((line) => /\b(error|emerg|alert|fatal|cannot)\b/i.test(line)) ?? lines[lines.length - 1];
  return `: ${telling.trim()}\n    ${lines.slice(-tailLines).join('\n    ')}`;
}

export interface Probe {
  readonly status: number;
  readonly bytes: number;
}

/**
 * One GET on a fresh connection, body counted and dropped: HTTP/1.1 (over TLS for https: URLs) or, with
 * `useHttp2`, HTTP/2 (prior knowledge for http:, ALPN h2 for https:). Certificates are not verified.
 */
export function probe(url: string, timeoutMs = 5000, useHttp2 = false): Promise<Probe> {
  if (useHttp2) return probeHttp2(new URL(url), timeoutMs);
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(url, { agent: false, timeout: timeoutMs, rejectUnauthorized: false }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no response within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

function probeHttp2(url: URL, timeoutMs: number): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url.origin, { rejectUnauthorized: false });
    const fail = (error: Error): void => {
      session.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`no HTTP/2 response within ${timeoutMs} ms`)), timeoutMs);
    session.on('error', fail);
    const stream = session.request({ ':path': url.pathname + url.search });
    let status = 0;
    let bytes = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, bytes });
    });
    stream.on('error', fail);
  });
}
