// The running balancer: the current generation, its listeners, and the verbs that change them — reload
// (validate → build → swap → diff listeners → drain what left), stop (graceful), and the operator verbs on
// one endpoint (drain, enable, disable, set weight) the admin API calls. Reloads run one at a time; a
// failed one changes nothing.
import { publish } from '../core/events.ts';
import { log } from '../core/log.ts';
import { parseAddress } from '../core/address.ts';
import { bindListener, type BoundListener } from './listeners.ts';
import { EndpointState, endpointStateNames, type Endpoint } from '../upstream/endpoint.ts';
import type { OutlierDetector } from '../upstream/health/outlier.ts';
import type { HealthScheduler } from '../upstream/health/scheduler.ts';
import type { Pool } from '../upstream/pool.ts';
import type { AdminServer } from './admin/server.ts';
import { ConfigError, formatDiagnostic } from './config/diagnostics.ts';
import { loadConfigFile } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { buildGeneration, healthSchedulers, outlierDetectors, type Generation } from './generation.ts';

interface RunningListener {
  readonly name: string;
  /** protocol + address: a listener whose key is unchanged keeps its socket across reloads. */
  readonly key: string;
  readonly listener: BoundListener;
}

export interface ReloadResult {
  readonly ok: boolean;
  readonly generation: number;
  readonly errors: readonly string[];
}

function listenerKey(l: Config['listeners'][number]): string {
  return l.protocol + ' ' + l.address.text;
}

export class Runtime {
  generation: Generation;
  readonly configPath: string | null;
  private listeners: RunningListener[];
  private admin: AdminServer | null;
  private reloading: Promise<unknown>;
  private stopped: boolean;
  /** Active health checks of the current generation. */
  private schedulers: HealthScheduler[];
  /** Outlier detection of the current generation. */
  private detectors: OutlierDetector[];
  /** Reloads applied and rejected since the process started (read at scrape time). */
  private reloadCounts: { succeeded: number; failed: number };

  private constructor(generation: Generation, configPath: string | null) {
    this.generation = generation;
    this.configPath = configPath;
    this.listeners = [];
    this.admin = null;
    this.reloading = Promise.resolve();
    this.stopped = false;
    this.schedulers = [];
    this.detectors = [];
    this.reloadCounts = { succeeded: 0, failed: 0 };
  }

  /** Builds generation 1 and binds every listener; on a bind failure everything bound so far is closed. */
  static async start(config: Config, configPath: string | null = null): Promise<Runtime> {
    const { generation } = buildGeneration(config, 1, null);
    const rt = new Runtime(generation, configPath);
    try {
      rt.listeners = await rt.bindListeners(config.listeners, generation, []);
      if (config.admin !== undefined) {
        // loaded only when configured: node:http alone adds ~15 MB of resident memory
        const { startAdmin } = await import('./admin/server.ts');
        rt.admin = await startAdmin(rt, config.admin.address.host, config.admin.address.port);
      }
    } catch (err) {
      for (const l of rt.listeners) l.listener.closeNow();
      throw err;
    }
    rt.startHealthChecks();
    log('info', 'started', { generation: 1, listeners: rt.describeListeners() });
    return rt;
  }

  /** Where a listener is bound (its real port when the config said 0). */
  address(name: string): { host: string; port: number } {
    const l = this.listeners.find((x) => x.name === name);
    if (l === undefined) throw new Error(`no listener named ${name}`);
    const a = l.listener.address;
    return { host: a.address, port: a.port };
  }

  get adminAddress(): { host: string; port: number } | null {
    return this.admin === null ? null : this.admin.address;
  }

  describeListeners(): { name: string; address: string }[] {
    return this.listeners.map((l) => {
      const a = l.listener.address;
      return { name: l.name, address: (a.family === 'IPv6' ? `[${a.address}]` : a.address) + ':' + a.port };
    });
  }

  get reloadsSucceeded(): number {
    return this.reloadCounts.succeeded;
  }

  get reloadsFailed(): number {
    return this.reloadCounts.failed;
  }

  /** Closes L4 connections and flows to `e` (its deregistration delay ended). */
  private readonly closeL4 = (e: Endpoint): void => {
    for (const l of this.listeners) l.listener.closeConnectionsTo(e);
  };

  /** Each L4 listener's counters, by name. */
  l4Stats(): { name: string; counters: Readonly<Record<string, number>> }[] {
    const out: { name: string; counters: Readonly<Record<string, number>> }[] = [];
    for (const l of this.listeners) if (l.listener.l4Counters !== null) out.push({ name: l.name, counters: l.listener.l4Counters });
    return out;
  }

  /** Each listener with its open downstream connections. */
  listenerStats(): { name: string; address: string; connections: number }[] {
    const described = this.describeListeners();
    return this.listeners.map((l, i) => ({ ...described[i], connections: l.listener.connectionCount }));
  }

  /** Reloads from `config`, or from the config file when none is given. Never throws for a bad config. */
  reload(config?: Config): Promise<ReloadResult> {
    const next = this.reloading
      .then(() => this.reloadNow(config))
      .then(
        (r) => {
          if (r.ok) this.reloadCounts.succeeded++;
          else this.reloadCounts.failed++;
          return r;
        },
        (err: unknown) => {
          this.reloadCounts.failed++;
          throw err;
        },
      );
    this.reloading = next.catch(() => undefined);
    return next;
  }

  private async reloadNow(given?: Config): Promise<ReloadResult> {
    const current = this.generation.id;
    if (this.stopped) return { ok: false, generation: current, errors: ['shutting down'] };
    let config: Config;
    try {
      if (given !== undefined) config = given;
      else if (this.configPath !== null) config = await loadConfigFile(this.configPath);
      else return { ok: false, generation: current, errors: ['no config file to reload from'] };
    } catch (err) {
      const errors = err instanceof ConfigError ? err.diagnostics.map(formatDiagnostic) : [String((err as Error).message ?? err)];
      log('warn', 'reload rejected: config invalid', { generation: current, errors });
      return { ok: false, generation: current, errors };
    }
    const { generation, removed } = buildGeneration(config, current + 1, this.generation);
    // Bind new listeners before the swap so a busy port fails the reload, not the running balancer.
    let listeners: RunningListener[];
    try {
      listeners = await this.bindListeners(config.listeners, generation, this.listeners);
    } catch (err) {
      closeBalancers(generation);
      const message = `cannot bind listener: ${(err as Error).message}`;
      log('warn', 'reload rejected', { generation: current, error: message });
      return { ok: false, generation: current, errors: [message] };
    }
    const previous = this.listeners;
    const old = this.generation;
    closeBalancers(this.generation);
    this.generation = generation;
    this.listeners = listeners;
    for (const l of listeners) l.listener.apply(generation, l.name);
    for (const old of previous) {
      if (!listeners.some((l) => l.listener === old.listener)) void old.listener.stop(config.shutdown.drainTimeout);
    }
    this.startHealthChecks();
    drainEndpoints(removed, (e) => [...old.pools.values()].find((p) => p.endpoints.includes(e))?.settings.deregistrationDelayMs ?? 0, this.closeL4);
    log('info', 'reloaded', { generation: generation.id, listeners: this.describeListeners(), removedEndpoints: removed.map((e) => e.key) });
    return { ok: true, generation: generation.id, errors: [] };
  }

  /** Stops the previous generation's health checks and outlier detectors and starts the current one's;
   *  endpoint states, health counters and ejections carry over with the endpoints (the new detectors take
   *  over the return of ejected endpoints). A state change refreshes the current generation's pool. */
  private startHealthChecks(): void {
    this.stopHealthChecks();
    if (this.stopped) return;
    this.detectors = outlierDetectors(this.generation);
    for (const d of this.detectors) d.start();
    this.schedulers = healthSchedulers(this.generation, (name, e) => {
      const pool = this.generation.pools.get(name);
      if (pool !== undefined && pool.endpoints.includes(e)) pool.refresh();
    });
    for (const s of this.schedulers) s.start();
  }

  private stopHealthChecks(): void {
    for (const s of this.schedulers) s.stop();
    this.schedulers = [];
    for (const d of this.detectors) d.stop();
    this.detectors = [];
  }

  /**
   * Operator verbs on one endpoint (HAProxy's `set server … state drain|ready|maint`): `drain` takes no new
   * work while in-flight exchanges finish (its idle upstream connections close at once); `disable` is the
   * same, for maintenance; `enable` returns it to healthy (active checks, when configured, go on judging it).
   * The state is the endpoint's, so it survives reloads. Returns an error message, or null.
   */
  setEndpointState(pool: string, address: string, verb: 'drain' | 'enable' | 'disable'): string | null {
    const found = this.findEndpoint(pool, address);
    if (typeof found === 'string') return found;
    const [p, e] = found;
    const from = endpointStateNames[e.state];
    e.state = verb === 'drain' ? EndpointState.draining : verb === 'disable' ? EndpointState.disabled : EndpointState.healthy;
    p.refresh();
    if (verb !== 'enable') {
      e.connections?.closeIdle();
      scheduleDeregistration(e, p.settings.deregistrationDelayMs, this.closeL4);
    } else cancelDeregistration(e);
    log('info', 'endpoint state', { pool, endpoint: address, from, to: endpointStateNames[e.state], reason: `operator: ${verb}` });
    publish({ kind: 'operator', pool, endpoint: address, from, to: endpointStateNames[e.state], reason: `operator: ${verb}` });
    return null;
  }

  /**
   * Sets an endpoint's weight (integer 0..256; 0 = no new work) and rebuilds its pool's balancer, like
   * HAProxy's `set server … weight`: it takes effect at once, ends a slow start in progress, and lasts until a
   * reload applies the config's weight again. Returns an error message, or null.
   */
  setEndpointWeight(pool: string, address: string, weight: number): string | null {
    if (!Number.isInteger(weight) || weight < 0 || weight > 256) throw new RangeError(`weight must be an integer 0..256, got ${weight}`);
    const found = this.findEndpoint(pool, address);
    if (typeof found === 'string') return found;
    const [p, e] = found;
    const from = e.weight;
    e.weight = weight;
    p.refresh();
    log('info', 'endpoint weight', { pool, endpoint: address, from, to: weight, reason: 'operator: set weight' });
    publish({ kind: 'weight', pool, endpoint: address, from: String(from), to: String(weight), reason: 'operator: set weight' });
    return null;
  }

  /**
   * Re-weights a route's weighted `forward` (a canary step, a blue-green flip) until the next reload. Every
   * pool of the split must be named once; requests in flight keep their pool. Returns an error or null.
   */
  setSplit(routeName: string, weights: readonly { pool: string; weight: number }[]): string | null {
    const routes = [...this.generation.listeners.values()].flatMap((l) => l.routes.rules);
    const route = routes.find((r) => r.name === routeName);
    if (route === undefined) return `no route named ${JSON.stringify(routeName)} (routes: ${routes.map((r) => r.name).join(', ')})`;
    const split = route.split;
    if (split === null) return `route ${routeName} forwards to one pool; only a weighted forward (pools: […]) can be re-weighted`;
    const current = split.targets.map((t) => t.target.name);
    const given = weights.map((w) => w.pool);
    if (given.length !== current.length || current.some((p) => !given.includes(p))) {
      return `expected a weight for each pool of the split, exactly once: ${current.join(', ')}`;
    }
    const next = split.targets.map((t) => ({ target: t.target, weight: weights.find((w) => w.pool === t.target.name)!.weight }));
    const from = split.targets.map((t) => `${t.target.name}=${t.weight}`).join(',');
    try {
      split.setWeights(next);
    } catch (err) {
      return (err as Error).message;
    }
    const to = next.map((t) => `${t.target.name}=${t.weight}`).join(',');
    log('info', 'route split', { route: routeName, from, to, reason: 'operator: set split' });
    publish({ kind: 'split', pool: current.join(','), endpoint: null, from, to, reason: `operator: route ${routeName}` });
    return null;
  }

  /**
   * Adds or removes an endpoint through a reload of the running config with that one change, so it is
   * validated and applied like config (a removed endpoint drains). Lasts until the config file is reloaded.
   */
  async changeEndpoints(pool: string, change: { add: { address: string; weight: number } } | { remove: string }): Promise<ReloadResult> {
    const config = this.generation.config;
    const p = config.pools.find((x) => x.name === pool);
    if (p === undefined) return { ok: false, generation: this.generation.id, errors: [`no pool named ${JSON.stringify(pool)}`] };
    let endpoints: Config['pools'][number]['endpoints'];
    if ('add' in change) {
      const address = parseAddress(change.add.address);
      if (address === undefined) return { ok: false, generation: this.generation.id, errors: [`address: expected host:port like "10.0.0.1:8080", found ${JSON.stringify(change.add.address)}`] };
      if (p.endpoints.some((e) => e.address.text === address.text)) return { ok: false, generation: this.generation.id, errors: [`pool ${pool} already has endpoint ${address.text}`] };
      endpoints = [...p.endpoints, { address, weight: change.add.weight }];
    } else {
      const address = parseAddress(change.remove)?.text ?? change.remove;
      if (!p.endpoints.some((e) => e.address.text === address)) return { ok: false, generation: this.generation.id, errors: [`pool ${pool} has no endpoint ${JSON.stringify(change.remove)}`] };
      endpoints = p.endpoints.filter((e) => e.address.text !== address);
    }
    const next: Config = { ...config, pools: config.pools.map((x) => (x === p ? { ...p, endpoints } : x)) };
    const result = await this.reload(next);
    if (result.ok) {
      const what = 'add' in change ? `added ${change.add.address}` : `removed ${change.remove}`;
      log('info', 'endpoints changed', { pool, change: what, generation: result.generation });
      publish({ kind: 'endpoints', pool, endpoint: 'add' in change ? change.add.address : change.remove, from: '', to: what, reason: 'operator' });
    }
    return result;
  }

  /** The current generation's pool and endpoint, or a message naming what exists. */
  private findEndpoint(pool: string, address: string): [Pool, Endpoint] | string {
    const p = this.generation.pools.get(pool);
    if (p === undefined) return `no pool named ${JSON.stringify(pool)} (pools: ${[...this.generation.pools.keys()].join(', ')})`;
    const e = p.endpoints.find((x) => x.key === address);
    if (e === undefined) return `pool ${pool} has no endpoint ${JSON.stringify(address)} (endpoints: ${p.endpoints.map((x) => x.key).join(', ')})`;
    return [p, e];
  }

  /** Reuses running listeners with the same protocol and address; binds the others. */
  private async bindListeners(configs: Config['listeners'], generation: Generation, running: readonly RunningListener[]): Promise<RunningListener[]> {
    const out: RunningListener[] = [];
    const fresh: BoundListener[] = [];
    try {
      for (const l of configs) {
        const key = listenerKey(l);
        const kept = running.find((r) => r.key === key);
        if (kept !== undefined) {
          out.push({ name: l.name, key, listener: kept.listener });
          continue;
        }
        const listener = await bindListener(l, generation);
        fresh.push(listener);
        out.push({ name: l.name, key, listener });
      }
    } catch (err) {
      for (const l of fresh) l.closeNow();
      throw err;
    }
    return out;
  }

  /** Graceful stop: stop accepting, let in-flight exchanges finish up to the drain timeout, close the rest. */
  async stop(drainTimeoutMs = this.generation.config.shutdown.drainTimeout): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    log('info', 'stopping', { drainTimeoutMs });
    this.stopHealthChecks();
    await Promise.all(this.listeners.map((l) => l.listener.stop(drainTimeoutMs)));
    drainEndpoints([...this.generation.endpoints.values()], () => 0, this.closeL4);
    closeBalancers(this.generation);
    if (this.admin !== null) await this.admin.close();
    log('info', 'stopped');
  }
}

/** Endpoints a reload removed: idle sockets close now, busy ones when done or when the delay passes. */
function drainEndpoints(endpoints: readonly Endpoint[], delayMs: (e: Endpoint) => number, closeL4: (e: Endpoint) => void): void {
  for (const e of endpoints) {
    e.connections?.close();
    scheduleDeregistration(e, delayMs(e), closeL4);
  }
}

/**
 * The deregistration delay (AWS ALB's `deregistration_delay`): a draining endpoint's connections may finish
 * for this long; then whatever is still open is closed.
 */
function scheduleDeregistration(e: Endpoint, delayMs: number, closeL4: (e: Endpoint) => void): void {
  cancelDeregistration(e);
  const close = () => {
    e.deregisterTimer = null;
    e.connections?.destroyAll();
    closeL4(e);
  };
  if (delayMs === 0) return close();
  e.deregisterTimer = setTimeout(close, delayMs);
  e.deregisterTimer.unref();
}

function cancelDeregistration(e: Endpoint): void {
  if (e.deregisterTimer !== null) clearTimeout(e.deregisterTimer);
  e.deregisterTimer = null;
}

/** Stops the background work (agent polling, slow-start steps) of a generation that is no longer current. */
function closeBalancers(generation: Generation): void {
  for (const pool of generation.pools.values()) pool.close();
}
