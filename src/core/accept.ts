// Accepting connections without net.Server's wrapping. Only a socket created with Node's `onread` option reads
// into a caller's buffer (no Buffer allocated per read), and net.Server offers no way to pass that option; so the
// listening handle's accept callback is replaced and the caller wraps each accepted handle itself. Everything
// else net.Server does on accept (the 'connection' event, `maxConnections`, connection counting) the listeners
// that use this do themselves or not at all.
import type net from 'node:net';

interface ServerHandle {
  onconnection: (err: number, clientHandle: unknown) => void;
}

/** Routes every connection `server` accepts from now on to `onHandle` (a TCP handle to wrap in a net.Socket).
 *  The server must be listening. */
export function takeOverAccept(server: net.Server, onHandle: (handle: unknown) => void): void {
  const handle = (server as unknown as { _handle: ServerHandle | null })._handle;
  if (handle === null || typeof handle.onconnection !== 'function') throw new Error('listener: no accept handle to take over');
  handle.onconnection = (err: number, clientHandle: unknown) => {
    if (err || clientHandle === undefined) return; // e.g. EMFILE: the kernel keeps the connection queued
    onHandle(clientHandle);
  };
}
