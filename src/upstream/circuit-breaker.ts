// Circuit breaking per pool (Envoy's cluster circuit breakers): caps on the pool's upstream connections,
// requests waiting for a connection, requests in flight and retries in flight. A request that would pass a
// cap fails fast with 503 `circuit_open` naming the cap, instead of queueing behind an overloaded pool.
// One breaker per pool name, kept across reloads (its counts describe live traffic; only the caps change).

/** The caps, as named in reply bodies, logs and metric labels. */
export const CircuitLimit = {
  maxConnections: 'max_connections',
  maxPending: 'max_pending',
  maxRequests: 'max_requests',
  maxRetries: 'max_retries',
} as const;
export type CircuitLimitName = (typeof CircuitLimit)[keyof typeof CircuitLimit];

export interface CircuitLimits {
  /** Upstream sockets open across the pool's endpoints. */
  readonly maxConnections: number;
  /** Requests waiting in the endpoints' connection queues. */
  readonly maxPending: number;
  /** Requests in flight to the pool. */
  readonly maxRequests: number;
  /** Retries in flight; Infinity = only the retry budget limits them. */
  readonly maxRetries: number;
}

export class CircuitBreaker {
  limits: CircuitLimits;
  /** Requests in flight (from their first try to their end). */
  requests: number;
  /** Requests waiting in a connection queue. */
  pending: number;
  /** Requests in flight on a retry. */
  retries: number;
  /** How often each cap turned a request away, for metrics and the admin API. */
  readonly trips: Record<CircuitLimitName, number>;

  constructor(limits: CircuitLimits) {
    this.limits = limits;
    this.requests = 0;
    this.pending = 0;
    this.retries = 0;
    this.trips = { max_connections: 0, max_pending: 0, max_requests: 0, max_retries: 0 };
  }

  /** Counts a trip of `limit` and returns it (for the caller's reply). */
  trip(limit: CircuitLimitName): CircuitLimitName {
    this.trips[limit]++;
    return limit;
  }
}
