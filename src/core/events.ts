// The state event log: a bounded in-memory record of endpoint and pool state changes — health checks
// (healthy ⇄ unhealthy), outlier detection (ejected, returned), panic mode (entered, left) and operator verbs
// (drain, enable, disable, set weight) — for the dashboard's "recent transitions" and its live stream.
// Published where each change is made (never on the request path); a fixed ring keeps the last `capacity`.
// Subscribers are called synchronously; one that throws is skipped, never the publisher.

export type StateEventKind = 'health' | 'outlier' | 'panic' | 'operator' | 'weight' | 'split' | 'endpoints';

export interface StateEvent {
  /** Monotonic per log, from 1: lets a reader tell events it has already seen. */
  readonly seq: number;
  /** Wall-clock time of the change, ms since the epoch. */
  readonly at: number;
  readonly kind: StateEventKind;
  readonly pool: string;
  /** The endpoint's address as written in the config; null for a pool-wide change (panic). */
  readonly endpoint: string | null;
  /** State names (`healthy`, `ejected`, …), `normal`/`panic` for panic mode, weights as text. */
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

export type StateEventInput = Omit<StateEvent, 'seq' | 'at'> & { readonly at?: number };

export type StateEventListener = (event: StateEvent) => void;

/** How many events the process-wide log keeps. */
export const defaultEventCapacity = 256;

export class EventLog {
  readonly capacity: number;
  private readonly ring: (StateEvent | undefined)[];
  /** Events published so far; the next one lands at `published % capacity`. */
  private published: number;
  private readonly listeners: Set<StateEventListener>;

  constructor(capacity = defaultEventCapacity) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.ring = new Array<StateEvent | undefined>(capacity);
    this.published = 0;
    this.listeners = new Set();
  }

  /** Records `input` (stamped now unless it says `at`) and hands it to every subscriber. */
  publish(input: StateEventInput): StateEvent {
    const event: StateEvent = { ...input, seq: this.published + 1, at: input.at ?? Date.now() };
    this.ring[this.published % this.capacity] = event;
    this.published++;
    for (const fn of this.listeners) {
      try {
        fn(event);
      } catch {
        // a broken reader must not break the state change that published
      }
    }
    return event;
  }

  /** The last `n` events (at most `capacity`), oldest first. */
  recent(n = this.capacity): StateEvent[] {
    const count = Math.max(0, Math.min(Math.floor(n), this.capacity, this.published));
    const out: StateEvent[] = [];
    for (let i = this.published - count; i < this.published; i++) out.push(this.ring[i % this.capacity]!);
    return out;
  }

  /** Calls `fn` with every event published from now on; returns the unsubscribe function. */
  subscribe(fn: StateEventListener): () => void {
    const own: StateEventListener = (e) => fn(e);
    this.listeners.add(own);
    return () => {
      this.listeners.delete(own);
    };
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** Events published since the log was created (including those the ring has dropped). */
  get total(): number {
    return this.published;
  }
}

/** The process-wide log the health checks, outlier detection, pools and runtime verbs publish to. */
export const stateEvents = new EventLog();

/** Publishes to the process-wide log. */
export function publish(input: StateEventInput): StateEvent {
  return stateEvents.publish(input);
}

/** The process-wide log's last `n` events, oldest first. */
export function recent(n?: number): StateEvent[] {
  return stateEvents.recent(n);
}
