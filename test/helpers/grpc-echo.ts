// Real gRPC peers for the proxy tests: @grpc/grpc-js servers of the Echo service (test/fixtures/grpc/echo.proto)
// on 127.0.0.1, cleartext or TLS, each answer naming its server; behaviour (failing status, delay) changeable
// while running. Clients are grpc-js clients of the same service.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const definition = protoLoader.loadSync(fileURLToPath(new URL('../fixtures/grpc/echo.proto', import.meta.url)), { keepCase: true, longs: Number, defaults: true });
const loaded = grpc.loadPackageDefinition(definition) as unknown as { fulcrum: { test: { Echo: grpc.ServiceClientConstructor } } };
export const Echo = loaded.fulcrum.test.Echo;

export interface Msg {
  text: string;
  count: number;
  server: string;
  blob: Buffer;
}

export interface EchoServer {
  readonly name: string;
  readonly port: number;
  readonly address: string;
  /** Calls received, by method name. */
  readonly calls: Map<string, number>;
  /** Calls the client cancelled. */
  cancelled: number;
  /** Unary calls fail with this status (0 = answer normally). */
  failWith: number;
  /** Unary calls answer after this long. */
  delayMs: number;
  close(): Promise<void>;
}

type Call = grpc.ServerUnaryCall<Msg, Msg> | grpc.ServerWritableStream<Msg, Msg> | grpc.ServerReadableStream<Msg, Msg> | grpc.ServerDuplexStream<Msg, Msg>;

export async function startEchoServer(name: string, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<EchoServer> {
  const server = new grpc.Server();
  const s = { name, port: 0, address: '', calls: new Map<string, number>(), cancelled: 0, failWith: 0, delayMs: 0 } as EchoServer & { port: number; address: string };
  const count = (method: string, call: Call): void => {
    s.calls.set(method, (s.calls.get(method) ?? 0) + 1);
    (call as NodeJS.EventEmitter).on('cancelled', () => s.cancelled++);
  };
  const trailer = (): grpc.Metadata => {
    const m = new grpc.Metadata();
    m.set('x-served-by', name);
    return m;
  };
  server.addService(Echo.service, {
    Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, done: grpc.sendUnaryData<Msg>) => {
      count('Unary', call);
      const answer = (): void => {
        if (s.failWith !== 0) return done({ code: s.failWith, details: `${name} says no` }, null, trailer());
        done(null, { text: call.request.text, count: call.request.count, server: name, blob: call.request.blob }, trailer());
      };
      if (s.delayMs > 0) setTimeout(answer, s.delayMs);
      else answer();
    },
    ServerStream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      count('ServerStream', call);
      let i = 0;
      // one message per tick until `count` are out or the client cancels; the pace shows cancellation arrives
      const next = (): void => {
        if (call.cancelled) return;
        if (i === call.request.count) return call.end(trailer());
        call.write({ text: `${call.request.text}-${i}`, count: i, server: name, blob: Buffer.alloc(0) });
        i++;
        setImmediate(next);
      };
      next();
    },
    ClientStream: (call: grpc.ServerReadableStream<Msg, Msg>, done: grpc.sendUnaryData<Msg>) => {
      count('ClientStream', call);
      let sum = 0;
      let text = '';
      call.on('data', (m: Msg) => {
        sum += m.count;
        text += m.text;
      });
      call.on('end', () => done(null, { text, count: sum, server: name, blob: Buffer.alloc(0) }, trailer()));
    },
    Bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      count('Bidi', call);
      call.on('data', (m: Msg) => call.write({ text: m.text.toUpperCase(), count: m.count, server: name, blob: m.blob }));
      call.on('end', () => call.end(trailer()));
    },
  });
  s.port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, port) => (err ? reject(err) : resolve(port))));
  s.address = `127.0.0.1:${s.port}`;
  s.close = () =>
    new Promise<void>((resolve) => {
      server.forceShutdown();
      resolve();
    });
  return s;
}

export type EchoClient = grpc.Client & {
  Unary(m: Partial<Msg>, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, r: Msg) => void): grpc.ClientUnaryCall;
  ServerStream(m: Partial<Msg>, o?: grpc.CallOptions): grpc.ClientReadableStream<Msg>;
  ClientStream(cb: (err: grpc.ServiceError | null, r: Msg) => void): grpc.ClientWritableStream<Partial<Msg>>;
  Bidi(): grpc.ClientDuplexStream<Partial<Msg>, Msg>;
};

export function echoClient(port: number, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): EchoClient {
  return new Echo(`127.0.0.1:${port}`, credentials) as unknown as EchoClient;
}

export interface UnaryResult {
  readonly err: grpc.ServiceError | null;
  readonly reply: Msg | null;
  /** Trailing metadata (the status's). */
  readonly trailers: grpc.Metadata | null;
}

/** One unary call; resolves with the error or the reply and the trailing metadata. */
export function unary(client: EchoClient, m: Partial<Msg>, options: grpc.CallOptions = {}): Promise<UnaryResult> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | null = null;
    const call = client.Unary(m, new grpc.Metadata(), options, (err, reply) => {
      // 'status' comes after the callback in some grpc-js versions: let it land
      setImmediate(() => resolve({ err, reply: err ? null : reply, trailers }));
    });
    call.on('status', (st: grpc.StatusObject) => {
      trailers = st.metadata;
    });
  });
}

export { grpc };
