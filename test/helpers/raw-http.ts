// Wire-level HTTP/1.1 for tests that send hostile bytes: an origin that records every request it can frame
// (with a strict splitter of its own, so a smuggled request shows up as a separate record) and every byte
// it was sent, and a splitter for the responses a raw client got back.
import type net from 'node:net';
import { startRawOrigin, type Origin } from './origins.ts';

export interface ReceivedRequest {
  method: string;
  target: string;
  /** Field lines as received, names lowercased. */
  headers: [string, string][];
  /** The body, de-chunked, latin1. */
  body: string;
}

export interface RecordingOrigin extends Origin {
  /** Complete requests, in the order they finished arriving (over all connections). */
  readonly received: readonly ReceivedRequest[];
  /** Every byte received on every connection, latin1, in arrival order. */
  readonly raw: string;
  /** Why the splitter gave up on a connection (it then closes that connection). */
  readonly errors: readonly string[];
}

/** Bound on what the origin keeps unparsed per connection. */
const maxPending = 1 << 20;
const tchar = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const requestLine = new RegExp(`^(${tchar}+) ([\\x21-\\x7e]+) HTTP/1\\.1$`);
const fieldLine = new RegExp(`^(${tchar}+):[ \\t]*(.*?)[ \\t]*$`);

type Split = { request: ReceivedRequest; length: number } | { error: string } | null;

/** One request from the start of `buf`: the request and its length, an error, or null when incomplete. */
export function splitRequest(buf: string): Split {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return buf.length > 65536 ? { error: 'head too large' } : null;
  const lines = buf.slice(0, headEnd).split('\r\n');
  for (const line of lines) if (/[\r\n\x00]/.test(line)) return { error: `bare CR, LF or NUL in ${JSON.stringify(line)}` };
  const start = requestLine.exec(lines[0]);
  if (start === null) return { error: `bad request line ${JSON.stringify(lines[0])}` };
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const m = fieldLine.exec(line);
    if (m === null) return { error: `bad field line ${JSON.stringify(line)}` };
    headers.push([m[1].toLowerCase(), m[2]]);
  }
  const te = headers.filter(([n]) => n === 'transfer-encoding');
  const cl = headers.filter(([n]) => n === 'content-length');
  let pos = headEnd + 4;
  let body = '';
  if (te.length > 0) {
    if (cl.length > 0 || te.length > 1 || te[0][1] !== 'chunked') return { error: 'ambiguous framing' };
    // chunks until the last one; every step moves pos forward or returns
    while (true) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const size = /^([0-9a-fA-F]{1,16})(;[^\r\n]*)?$/.exec(buf.slice(pos, lineEnd));
      if (size === null) return { error: `bad chunk size line ${JSON.stringify(buf.slice(pos, lineEnd))}` };
      const n = parseInt(size[1], 16);
      pos = lineEnd + 2;
      if (n === 0) break;
      if (buf.length < pos + n + 2) return null;
      if (buf.slice(pos + n, pos + n + 2) !== '\r\n') return { error: 'no CRLF after chunk data' };
      body += buf.slice(pos, pos + n);
      pos += n + 2;
    }
    while (true) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const line = buf.slice(pos, lineEnd);
      pos = lineEnd + 2;
      if (line === '') break;
      if (fieldLine.exec(line) === null) return { error: `bad trailer ${JSON.stringify(line)}` };
    }
  } else if (cl.length > 0) {
    if (cl.length > 1 || !/^[0-9]{1,15}$/.test(cl[0][1])) return { error: 'bad content-length' };
    const n = Number(cl[0][1]);
    if (buf.length < pos + n) return null;
    body = buf.slice(pos, pos + n);
    pos += n;
  }
  return { request: { method: start[1], target: start[2], headers, body }, length: pos };
}

/**
 * A raw origin that frames what it receives strictly, records each request and answers it with
 * `200` and the body `seen METHOD TARGET`, keeping the connection open for the next one.
 */
export async function startRecordingOrigin(): Promise<RecordingOrigin> {
  const received: ReceivedRequest[] = [];
  const errors: string[] = [];
  const rawChunks: string[] = [];
  const onConnection = (socket: net.Socket): void => {
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      rawChunks.push(text);
      pending += text;
      // each request consumes at least its head, so this ends within pending.length rounds
      for (let round = 0; round <= pending.length; round++) {
        const r = splitRequest(pending);
        if (r === null) {
          if (pending.length > maxPending) socket.destroy();
          return;
        }
        if ('error' in r) {
          errors.push(r.error);
          socket.destroy();
          return;
        }
        received.push(r.request);
        pending = pending.slice(r.length);
        const body = `seen ${r.request.method} ${r.request.target}`;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    });
  };
  const origin = await startRawOrigin(onConnection);
  return {
    get port() {
      return origin.port;
    },
    get address() {
      return origin.address;
    },
    get requests() {
      return received.length;
    },
    received,
    get raw() {
      return rawChunks.join('');
    },
    errors,
    close: () => origin.close(),
  };
}

export interface RawResponse {
  status: number;
  /** Names lowercased; a repeated name keeps its last value. */
  headers: Record<string, string>;
  body: string;
}

/**
 * Splits what a raw client received into responses framed by Content-Length (or chunked, or to the end).
 * `rest` is whatever could not be framed: it should be empty.
 */
export function splitResponses(text: string): { responses: RawResponse[]; rest: string } {
  const responses: RawResponse[] = [];
  let pos = 0;
  // each response consumes at least its head
  while (pos < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) break;
    const lines = text.slice(pos, headEnd).split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3}) [^\r\n]*$/.exec(lines[0]);
    if (status === null) break;
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) return { responses, rest: text.slice(pos) };
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = headEnd + 4;
    let body = '';
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (text.length < bodyStart + n) break;
      body = text.slice(bodyStart, bodyStart + n);
      bodyStart += n;
    } else if (headers['transfer-encoding'] === 'chunked') {
      const r = splitRequest(`POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n${text.slice(bodyStart)}`);
      if (r === null || 'error' in r) break;
      body = r.request.body;
      bodyStart += r.length - 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n'.length;
    } else if (Number(status[1]) >= 200 && status[1] !== '204' && status[1] !== '304') {
      body = text.slice(bodyStart);
      bodyStart = text.length;
    }
    responses.push({ status: Number(status[1]), headers, body });
    pos = bodyStart;
  }
  return { responses, rest: text.slice(pos) };
}
