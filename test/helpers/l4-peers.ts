// Third-party peers for the L4 tests: a `fulcrum run` process started from a YAML config (listener ports read
// from its `started` log line, so the config can say port 0), HAProxy started from a config text in the
// foreground (`-db`), any command-line program run to completion with a time limit (redis-cli, dig, openssl),
// and a small DNS server (UDP and TCP on one port, answering A queries with its own address) built on dns-packet.
// Every child is ended by its own PID.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import dnsPacket from 'dns-packet';

const main = new URL('../../src/main.ts', import.meta.url).pathname;

// ---- child processes -------------------------------------------------------------------------------------------

/** Sends SIGTERM to the child, SIGKILL after `graceMs`, and resolves once it has exited. */
async function endChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface ProgramResult {
  /** null when killed (see `timedOut`). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs `command` to completion with `input` on its stdin; killed (SIGKILL, by PID) after `timeoutMs`. */
export function runProgram(command: string, args: readonly string[], options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 5000);
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.stdin!.on('error', () => {}); // the program may exit before reading all of it
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1'), timedOut });
    });
    child.stdin!.end(options.input ?? '');
  });
}

/** A long-running child whose output is kept, with a wait for a pattern in it. */
export class RunningProgram {
  readonly child: ChildProcess;
  private out: string;
  /** The child has exited and its output streams are drained. */
  private closed: boolean;
  private readonly waiters: Set<() => void>;

  constructor(child: ChildProcess) {
    this.child = child;
    this.out = '';
    this.closed = false;
    this.waiters = new Set();
    const wake = () => {
      for (const w of [...this.waiters]) w();
    };
    const take = (c: Buffer) => {
      this.out += c.toString('latin1');
      wake();
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.stdin?.on('error', () => {});
    child.on('close', () => {
      this.closed = true;
      wake();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string {
    return this.out;
  }

  /** Resolves with the first match of `pattern` in the output; rejects when the child ends first or after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(this.out);
        if (m !== null) return finish(() => resolve(m));
        if (this.closed) finish(() => reject(new Error(`exited (${this.child.exitCode ?? this.child.signalCode}) before ${pattern}:\n${this.out}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.out}`))), timeoutMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  stop(graceMs = 3000): Promise<void> {
    return endChild(this.child, graceMs);
  }
}

// ---- fulcrum run ------------------------------------------------------------------------------------------------

export interface FulcrumProcess extends RunningProgram {
  /** The bound port of the named listener, from the `started` log line. */
  port(listener: string): number;
}

/** Writes `yaml` to a temporary file and runs `fulcrum run FILE`; resolves once it has logged `started`. */
export async function runFulcrum(yaml: string, timeoutMs = 10_000): Promise<FulcrumProcess> {
  const file = join(mkdtempSync(join(tmpdir(), 'fulcrum-l4-peers-')), 'fulcrum.yaml');
  writeFileSync(file, yaml);
  const env: Record<string, string | undefined> = { ...process.env, FULCRUM_ADMIN_TOKEN: undefined };
  const child = spawn(process.execPath, [main, 'run', file], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const running = new RunningProgram(child);
  let started: RegExpMatchArray;
  try {
    started = await running.waitForOutput(/^\{.*"msg":"started".*\}$/m, timeoutMs);
  } catch (err) {
    await running.stop(500);
    throw err;
  }
  const line = JSON.parse(started[0]) as { listeners: { name: string; address: string }[] };
  const ports = new Map(line.listeners.map((l) => [l.name, Number(l.address.slice(l.address.lastIndexOf(':') + 1))]));
  return Object.assign(running, {
    port(listener: string): number {
      const p = ports.get(listener);
      if (p === undefined) throw new Error(`no listener ${listener} in ${started[0]}`);
      return p;
    },
  });
}

// ---- HAProxy ----------------------------------------------------------------------------------------------------

export const haproxyPath = '/usr/sbin/haproxy';

/** True once a TCP connection to 127.0.0.1:`port` opens. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Runs HAProxy in the foreground (`-db`) on `config`; resolves once every port in `ports` accepts connections. */
export async function startHaproxy(config: string, ports: readonly number[], timeoutMs = 5000): Promise<RunningProgram> {
  const file = join(mkdtempSync(join(tmpdir(), 'fulcrum-haproxy-')), 'haproxy.cfg');
  writeFileSync(file, config.endsWith('\n') ? config : config + '\n'); // HAProxy refuses a last line without LF
  const running = new RunningProgram(spawn(haproxyPath, ['-f', file, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    while (!(await accepts(port))) {
      if (running.child.exitCode !== null || Date.now() > deadline) {
        await running.stop(500);
        throw new Error(`haproxy did not listen on ${port}:\n${running.output()}`);
      }
      await sleep(20);
    }
  }
  return running;
}

// ---- DNS --------------------------------------------------------------------------------------------------------

export interface DnsTestServer {
  readonly name: string;
  readonly port: number;
  /** The A record it gives for every name. */
  readonly address: string;
  /** Queries answered, over UDP and TCP. */
  queries: number;
  /** UDP queries answered, by sender `address:port`. */
  readonly udpSenders: Map<string, number>;
  close(): Promise<void>;
}

function answer(query: Buffer, address: string): Buffer {
  const q = dnsPacket.decode(query);
  const questions = q.questions ?? [];
  return dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED),
    questions,
    answers: questions.filter((x) => x.type === 'A').map((x) => ({ type: 'A' as const, class: 'IN' as const, name: x.name, ttl: 60, data: address })),
  });
}

/**
 * A DNS server on 127.0.0.1 that answers every A question with `address` (other types: no answer), over UDP
 * and over TCP (2-byte length prefix, RFC 1035 §4.2.2) on the same port number, as a real one listens on
 * both; the TCP side is also what a `tcp` health check probes. Undecodable datagrams are ignored.
 */
export async function startDnsServer(name: string, address: string, port = 0): Promise<DnsTestServer> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, '127.0.0.1', () => resolve());
    });
    const bound = udp.address().port;
    const tcp = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(bound, '127.0.0.1', () => resolve(true));
    });
    if (!ok) {
      udp.close();
      if (port !== 0) throw new Error(`tcp port ${port} is taken`);
      continue; // that number is taken on TCP: another one
    }
    const sockets = new Set<net.Socket>();
    const server: DnsTestServer = {
      name,
      port: bound,
      address,
      queries: 0,
      udpSenders: new Map(),
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
      },
    };
    udp.on('message', (msg, rinfo) => {
      let reply: Buffer;
      try {
        reply = answer(msg, address);
      } catch {
        return;
      }
      server.queries++;
      const from = `${rinfo.address}:${rinfo.port}`;
      server.udpSenders.set(from, (server.udpSenders.get(from) ?? 0) + 1);
      udp.send(reply, rinfo.port, rinfo.address);
    });
    tcp.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      let buf = Buffer.alloc(0);
      s.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const query = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + query.length);
          try {
            const reply = answer(query, address);
            server.queries++;
            const length = Buffer.alloc(2);
            length.writeUInt16BE(reply.length);
            s.write(Buffer.concat([length, reply]));
          } catch {
            s.destroy();
          }
        }
      });
    });
    return server;
  }
  throw new Error('no port number free on both UDP and TCP');
}
