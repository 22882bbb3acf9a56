// A `tcp` listener: every accepted connection goes to one pool (HAProxy `mode tcp` frontend + backend, Envoy
// tcp_proxy). The connection itself is tcp-proxy.ts; the accept loop, limits and operator verbs stream-listener.ts.
import type { L4Upstream, StreamListenerSettings, TcpListenerSettings } from './settings.ts';
import { StreamListener } from './stream-listener.ts';

export class TcpListener extends StreamListener<TcpListenerSettings> {
  override route(settings: StreamListenerSettings, _sni: string | null): L4Upstream | null {
    return (settings as TcpListenerSettings).upstream;
  }
}
