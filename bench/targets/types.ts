// The shape every compared target has: what it is given to start, and what the harness needs back.
import type { Launched } from '../processes.ts';
import type { Protocol } from '../protocols.ts';
import type { TlsFiles } from '../tls.ts';

export interface Upstream {
  readonly host: string;
  readonly port: number;
}

export interface TargetContext {
  /** Temp folder for generated configs and logs, removed at exit. */
  readonly dir: string;
  /** A free port on 127.0.0.1 for the target to listen on. */
  readonly port: number;
  /** The backends to round-robin over. */
  readonly upstreams: readonly Upstream[];
  /** Core list for taskset; undefined when not pinning. */
  readonly cpus: string | undefined;
  /** The project's Node.js (26) binary. */
  readonly node: string;
  /** Repository root. */
  readonly root: string;
  readonly binaries: Readonly<Record<string, string>>;
  /** What clients speak to the target (one of the target's `protocols`); HTTP/1.1 when absent. */
  readonly protocol?: Protocol;
  /** The certificate for TLS listeners; present when a TLS protocol is loaded. */
  readonly tls?: TlsFiles;
  /** Where the first backend answers each protocol it serves (what `direct` loads). */
  readonly backendOrigins?: Readonly<Partial<Record<Protocol, string>>>;
}

export interface RunningTarget {
  /** Origin to load, e.g. http://127.0.0.1:4000 or https://… (paths / and /64k are appended). */
  readonly url: string;
  /** The process carrying the traffic, for peak RSS: the worker of a master/worker server. */
  readonly measuredPid: number | undefined;
  /** The started process, to notice it ending mid-run; undefined when nothing was started. */
  readonly launched: Launched | undefined;
}

export interface Target {
  readonly name: string;
  /** One line for the docs: what runs and with which settings. */
  readonly summary: string;
  /** Client protocols it is compared on. */
  readonly protocols: readonly Protocol[];
  start(context: TargetContext): Promise<RunningTarget>;
}
