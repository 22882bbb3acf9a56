// Starts one target process pinned to the proxy core, waits until it listens, and finds the process
// whose memory to watch: NGINX serves from a worker child; HAProxy and Node.js serve from the process itself.
import { childrenOf, launch } from '../processes.ts';
import { HOST, waitForListening } from '../net.ts';
import { PROTOCOL_INFO } from '../protocols.ts';
import type { RunningTarget, TargetContext } from './types.ts';

const START_TIMEOUT_MS = 15_000;

/** `name`, or `name-<protocol>` for the other protocols: one instance, config and log per protocol. */
export function instanceName(context: TargetContext, name: string): string {
  return context.protocol === undefined || context.protocol === 'http' ? name : `${name}-${context.protocol}`;
}

export async function serve(
  context: TargetContext,
  name: string,
  command: string,
  args: readonly string[],
): Promise<RunningTarget> {
  const instance = instanceName(context, name);
  const launched = launch(instance, command, args, `${context.dir}/${instance}.log`, context.cpus);
  await waitForListening(context.port, launched, START_TIMEOUT_MS);
  const children = childrenOf(launched.pid);
  const measuredPid = children.length === 1 ? children[0] : launched.pid;
  const scheme = PROTOCOL_INFO[context.protocol ?? 'http'].scheme;
  return { url: `${scheme}://${HOST}:${context.port}`, measuredPid, launched };
}
