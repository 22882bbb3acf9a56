// Starts one target process pinned to the proxy core, waits until it listens, and finds the process
// whose memory to watch: NGINX serves from a worker child; HAProxy and Node.js serve from the process itself.
import { childrenOf, launch } from '../processes.ts';
import { HOST, waitForListening } from '../net.ts';
import type { RunningTarget, TargetContext } from './types.ts';

const START_TIMEOUT_MS = 15_000;

export async function serve(
  context: TargetContext,
  name: string,
  command: string,
  args: readonly string[],
): Promise<RunningTarget> {
  const launched = launch(name, command, args, `${context.dir}/${name}.log`, context.cpus);
  await waitForListening(context.port, launched, START_TIMEOUT_MS);
  const children = childrenOf(launched.pid);
  const measuredPid = children.length === 1 ? children[0] : launched.pid;
  return { url: `http://${HOST}:${context.port}`, measuredPid, launched };
}
