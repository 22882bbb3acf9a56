// A `tls-passthrough` listener: TLS is not terminated. The ClientHello is read (client-hello.ts) and kept, its
// server name routed (sni-routes.ts), and the kept bytes replayed to the chosen endpoint before the connection is
// piped untouched, so the handshake runs between the client and the endpoint (HAProxy `req.ssl_sni` with
// `tcp-request inspect-delay`, Envoy's tls_inspector + `server_names`).
import type { L4Upstream, StreamListenerSettings, TlsPassthroughSettings } from './settings.ts';
import { StreamListener } from './stream-listener.ts';

export class TlsPassthroughListener extends StreamListener<TlsPassthroughSettings> {
  override route(settings: StreamListenerSettings, sni: string | null): L4Upstream | null {
    return (settings as TlsPassthroughSettings).routes.match(sni);
  }

  protected override helloTimeoutMs(settings: TlsPassthroughSettings): number {
    return settings.clientHelloTimeoutMs;
  }
}
