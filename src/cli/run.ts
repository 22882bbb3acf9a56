// `fulcrum run CONFIG`: load, validate, start; SIGHUP reloads from the same file; SIGTERM and SIGINT stop
// gracefully (stop accepting, let in-flight requests finish up to shutdown.drainTimeout, exit 0).
import { ConfigError, formatDiagnostic } from '../control/config/diagnostics.ts';
import { loadConfigFile } from '../control/config/load.ts';
import { Runtime } from '../control/runtime.ts';
import { log } from '../core/log.ts';
import { flushAccessLogs } from '../observability/access-log.ts';
import { sharedRedisClients } from '../ratelimit/store/redis.ts';
import { ExitCode } from './exit-codes.ts';

export interface ServeHooks {
  onStarted?(rt: Runtime): void;
  onStopped?(): Promise<void>;
}

export async function serve(file: string, hooks: ServeHooks = {}): Promise<number> {
  let config;
  try {
    config = await loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const d of err.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
      return ExitCode.invalidConfig;
    }
    process.stderr.write(`fulcrum: cannot read ${file}: ${(err as Error).message}\n`);
    return ExitCode.usage;
  }
  let rt: Runtime;
  try {
    rt = await Runtime.start(config, file);
  } catch (err) {
    process.stderr.write(`fulcrum: cannot start: ${(err as Error).message}\n`);
    return ExitCode.startFailed;
  }
  hooks.onStarted?.(rt);
  return new Promise<number>((resolve) => {
    const onHup = () => {
      void rt.reload().then((r) => {
        if (!r.ok) for (const e of r.errors) process.stderr.write(e + '\n');
      });
    };
    let stopping = false;
    const onStop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log('info', 'signal', { signal });
      void rt.stop().then(async () => {
        process.off('SIGHUP', onHup);
        await flushAccessLogs();
        // Redis connections of rate limits linger for the next generation; at exit nothing comes next
        sharedRedisClients.closeAll();
        await hooks.onStopped?.();
        resolve(ExitCode.ok);
      });
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', () => onStop('SIGTERM'));
    process.on('SIGINT', () => onStop('SIGINT'));
  });
}

export async function run(argv: string[]): Promise<number> {
  if (argv.length !== 1) {
    process.stderr.write('usage: fulcrum run CONFIG\n');
    return ExitCode.usage;
  }
  return serve(argv[0]);
}
