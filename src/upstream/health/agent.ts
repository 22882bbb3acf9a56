// Agent reports (HAProxy's `agent-check`): an endpoint runs a small agent that says how much work it wants,
// as one ASCII line of words — `75%` (share of its configured weight), `drain` or `down`/`fail`/`stopped`/
// `maint` (no new work), `up`/`ready` (full weight again). Fulcrum reads it over TCP (connect, optionally
// send a line, read until newline or close) or HTTP (GET a path, read the body). Bounded: at most 512 bytes
// are read, and every probe has a timeout.
import net from 'node:net';

/** What a report asks for, as a share of the configured weight (0 = no new work); undefined = no verdict. */
export function parseAgentReport(text: string): number | undefined {
  let share: number | undefined;
  for (const word of text.trim().toLowerCase().split(/[\s,]+/)) {
    if (word === '') continue;
    const pct = /^(\d{1,4})(?:\.\d+)?%$/.exec(word);
    if (pct !== null) share = Number(word.slice(0, -1)) / 100;
    else if (word === 'drain' || word === 'down' || word === 'fail' || word === 'stopped' || word === 'maint') share = 0;
    else if ((word === 'up' || word === 'ready') && share === undefined) share = 1;
  }
  return share;
}

const MAX_REPORT_BYTES = 512;

export interface AgentTarget {
  readonly host: string;
  readonly port: number;
  /** HTTP path; absent = a TCP agent. */
  readonly path?: string;
  /** Sent to a TCP agent after connecting (HAProxy `agent-send`). */
  readonly send?: string;
}

/** Reads one report; rejects on connect failure, timeout, a non-2xx HTTP status or an oversized report. */
export function readAgent(target: AgentTarget, timeoutMs: number, signal: AbortSignal): Promise<string> {
  return target.path === undefined ? readTcp(target, timeoutMs, signal) : readHttp(target, target.path, timeoutMs, signal);
}

function readTcp(target: AgentTarget, timeoutMs: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, signal });
    let text = '';
    const done = (err: Error | null) => {
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(text.split('\n')[0]);
    };
    const timer = setTimeout(() => done(new Error(`timeout after ${timeoutMs}ms`)), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      if (target.send !== undefined) socket.write(target.send.endsWith('\n') ? target.send : target.send + '\n');
    });
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) done(null);
      else if (text.length > MAX_REPORT_BYTES) done(new Error('report too long'));
    });
    socket.on('end', () => done(null));
    socket.on('error', (err) => done(err));
  });
}

async function readHttp(target: AgentTarget, path: string, timeoutMs: number, signal: AbortSignal): Promise<string> {
  // loaded on first use: node:http costs ~15 MB of resident memory, and most configs never need it
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.get({ host: target.host, port: target.port, path, signal, timeout: timeoutMs, agent: false }, (res) => {
      if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode > 299) {
        res.resume();
        reject(new Error(`status ${res.statusCode}`));
        return;
      }
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (text.length > MAX_REPORT_BYTES) req.destroy(new Error('report too long'));
      });
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    req.on('error', reject);
  });
}
