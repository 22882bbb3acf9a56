// Coarse deadlines for every connection, swept by one interval timer (hot path rule 7: no timer object per
// connection or request). A connection sets `deadline` (ms on the coarse clock, 0 = none) and is checked
// every TICK_MS; timeouts are therefore accurate to about one tick, which is documented with each timeout.

export interface HasDeadline {
  /** Absolute time in ms (see `now()`), or 0 for none. */
  deadline: number;
  onDeadline(): void;
}

export const TICK_MS = 50;

let clock = Date.now();
const members = new Set<HasDeadline>();
let timer: NodeJS.Timeout | null = null;

/** The coarse clock: refreshed each tick and on demand; cheap to read on the hot path. */
export function now(): number {
  return clock;
}

export function refreshClock(): number {
  clock = Date.now();
  return clock;
}

function sweep(): void {
  const t = refreshClock();
  for (const m of members) {
    if (m.deadline !== 0 && m.deadline <= t) {
      m.deadline = 0;
      m.onDeadline();
    }
  }
}

export function watch(m: HasDeadline): void {
  members.add(m);
  if (timer === null) {
    // the clock stood still while nothing was watched
    refreshClock();
    timer = setInterval(sweep, TICK_MS);
    timer.unref();
  }
}

export function unwatch(m: HasDeadline): void {
  members.delete(m);
  if (members.size === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
  }
}

export function watchedCount(): number {
  return members.size;
}
