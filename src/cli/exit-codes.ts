// Exit codes of the `fulcrum` command (documented in docs/operations.md).
export const ExitCode = {
  /** Success; also a graceful stop after SIGTERM/SIGINT. */
  ok: 0,
  /** The config is invalid (check, run) or the running balancer rejected a reload. */
  invalidConfig: 1,
  /** Bad usage, or a file that cannot be read. */
  usage: 2,
  /** The balancer could not start (e.g. a listener address is in use). */
  startFailed: 3,
  /** `fulcrum reload` could not reach the running balancer. */
  unreachable: 4,
} as const;
