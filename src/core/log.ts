// Control-plane log lines (start, reload, shutdown, errors) as JSON on stderr. Not the access log: that
// one is per request and lives in observability/.
export type Level = 'info' | 'warn' | 'error';

let quiet = false;

/** Tests silence the log. */
export function setQuiet(value: boolean): void {
  quiet = value;
}

export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  if (quiet) return;
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
}
