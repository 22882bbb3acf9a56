// Command line shared by the Node.js comparison proxies: `<listen port> <host:port> <host:port> …`.
// The harness starts each proxy as its own process, so each one reads where to listen and what to balance.

export interface ProxyArgs {
  readonly port: number;
  readonly upstreams: readonly { readonly host: string; readonly port: number }[];
}

export function readProxyArgs(argv: readonly string[] = process.argv.slice(2)): ProxyArgs {
  const [portText, ...upstreamTexts] = argv;
  const port = Number(portText);
  if (!Number.isInteger(port) || upstreamTexts.length === 0) {
    throw new Error('usage: <listen port> <host:port> [host:port …]');
  }
  const upstreams = upstreamTexts.map((text) => {
    const colon = text.lastIndexOf(':');
    return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) };
  });
  return { port, upstreams };
}
