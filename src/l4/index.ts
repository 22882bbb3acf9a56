// The L4 data plane's public surface, for the config schema, the generation builder and the runtime.
export { proxyProtocolListenerSchema, proxyProtocolPoolSchema, tcpListenerSchema, tlsPassthroughListenerSchema, udpListenerSchema } from './schema.ts';
export type { L4ListenerConfig, ProxyProtocolPoolConfig, TcpListenerConfig, TlsPassthroughListenerConfig, UdpListenerConfig } from './schema.ts';
export { tcpListenerSettings, tlsPassthroughSettings, udpListenerSettings } from './settings.ts';
export type { L4Upstream, StreamListenerSettings, TcpListenerSettings, TlsPassthroughSettings, UdpListenerSettings, UpstreamOf } from './settings.ts';
export { StreamListener } from './stream-listener.ts';
export { TcpListener } from './tcp-listener.ts';
export { TlsPassthroughListener } from './tls-passthrough.ts';
export { StreamListenerCounters, TcpSession } from './tcp-proxy.ts';
export { UdpListener, UdpListenerCounters } from './udp-listener.ts';
export { buildProxyHeader, buildProxyHeaderV1, buildProxyHeaderV2, MAX_PROXY_HEADER_LENGTH, parseProxyHeader, sniffProxySignature } from './proxy-protocol.ts';
export type { ProxyAddress, ProxyHeader, ProxyProtocolVersion } from './proxy-protocol.ts';
export { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './client-hello.ts';
export type { ClientHelloResult } from './client-hello.ts';
export { SniRoutes } from './sni-routes.ts';
