// The client-side protocols `npm run bench` can load a target with; backends always speak HTTP/1.1.
//   http   HTTP/1.1, wrk                        https  HTTP/1.1 over TLS, wrk
//   h2c    HTTP/2 with prior knowledge, h2load   h2     HTTP/2 over TLS (ALPN h2), h2load
export type Protocol = 'http' | 'https' | 'h2c' | 'h2';

export const PROTOCOLS: readonly Protocol[] = ['http', 'https', 'h2c', 'h2'];

export interface ProtocolInfo {
  /** Heading prefix of its tables; '' for plain HTTP/1.1, whose tables keep their names. */
  readonly label: string;
  readonly scheme: 'http' | 'https';
  readonly http2: boolean;
}

export const PROTOCOL_INFO: Readonly<Record<Protocol, ProtocolInfo>> = {
  http: { label: '', scheme: 'http', http2: false },
  https: { label: 'HTTPS (HTTP/1.1 over TLS)', scheme: 'https', http2: false },
  h2c: { label: 'HTTP/2 cleartext (h2c, prior knowledge)', scheme: 'http', http2: true },
  h2: { label: 'HTTP/2 over TLS (h2, ALPN)', scheme: 'https', http2: true },
};

export const usesTls = (protocol: Protocol): boolean => PROTOCOL_INFO[protocol].scheme === 'https';
