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
  /** `fulcrum reload`, `status` or `endpoints` could not reach the running balancer's admin listener. */
  unreachable: 4,
  /** The admin API refused the request for want of the right token (HTTP 401). */
  unauthorized: 5,
} as const;
