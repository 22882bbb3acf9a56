// resource-based: endpoints report their own load and the balancer turns the reports into weights (HAProxy
// `agent-check`, in the seeds' "resource-based" sense). Each endpoint's agent is polled every `interval`
// (jittered); a report of `75%` gives it 75% of its configured weight, `drain`/`down` none, `up` all of it;
// shares are clamped to 0..`maxShare`. An agent that stays silent for `staleAfter` no longer counts: its
// endpoint falls back to its configured weight, so a broken agent neither drains nor floods an endpoint.
// Picks are NGINX's smooth weighted round robin over the effective weights.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import { log } from '../../core/log.ts';
import { durationSchema } from '../../core/units.ts';
import type { Endpoint } from '../endpoint.ts';
import { parseAgentReport, readAgent } from '../health/agent.ts';
import type { Balancer, PickContext } from './types.ts';
import { WeightedRoundRobin } from './weighted-round-robin.ts';

export const schema = z.strictObject({
  algorithm: z.literal('resource-based'),
  agent: z
    .strictObject({
      /** The agent's port on each endpoint's host; default the endpoint's own port (with `path`, an HTTP agent). */
      port: z.number().int().min(1).max(65535).optional(),
      /** HTTP agent: GET this path and read the report from the body. Absent: a TCP agent (HAProxy's). */
      path: z.string().regex(/^\/[^\s]*$/, 'expected a path starting with "/"').optional(),
      /** Sent to a TCP agent after connecting (HAProxy `agent-send`). */
      send: z.string().max(256).optional(),
      /** HAProxy `agent-inter` defaults to 2s. */
      interval: durationSchema.prefault('2s'),
      timeout: durationSchema.prefault('1s'),
      /** Reports older than this are ignored; default three intervals. */
      staleAfter: durationSchema.optional(),
    })
    .prefault({}),
  /** Upper clamp on a reported share of the configured weight (2 = 200%). */
  maxShare: z.number().min(0).max(10).default(1),
});
export type ResourceBasedOptions = z.output<typeof schema>;

interface Report {
  share: number;
  at: number;
}

export class ResourceBased implements Balancer {
  private readonly options: ResourceBasedOptions;
  private readonly wrr: WeightedRoundRobin;
  private endpoints: readonly Endpoint[];
  private readonly reports: Map<Endpoint, Report>;
  private readonly timers: Map<Endpoint, NodeJS.Timeout>;
  private readonly abort: AbortController;
  private readonly now: () => number;

  constructor(options: ResourceBasedOptions, now: () => number = Date.now) {
    this.options = options;
    this.wrr = new WeightedRoundRobin();
    this.endpoints = [];
    this.reports = new Map();
    this.timers = new Map();
    this.abort = new AbortController();
    this.now = now;
  }

  update(eligible: readonly Endpoint[]): void {
    this.endpoints = eligible;
    this.wrr.update(eligible);
    for (const [e, timer] of this.timers) {
      if (!eligible.includes(e)) {
        clearTimeout(timer);
        this.timers.delete(e);
      }
    }
    for (const e of eligible) if (!this.timers.has(e) && !this.abort.signal.aborted) this.schedule(e, Math.random() * this.options.agent.interval);
    this.reweight();
  }

  // HOT PATH: smooth weighted round robin over the effective weights.
  pick(ctx: PickContext): Endpoint | undefined {
    return this.wrr.pick(ctx);
  }

  /** Records an agent report (also the entry point for tests); `share` undefined = the agent gave no verdict. */
  report(endpoint: Endpoint, share: number | undefined): void {
    if (share === undefined) return;
    const clamped = Math.min(Math.max(share, 0), this.options.maxShare);
    const before = this.reports.get(endpoint);
    this.reports.set(endpoint, { share: clamped, at: this.now() });
    if (before === undefined || before.share !== clamped) {
      log('info', 'agent weight', { endpoint: endpoint.key, share: clamped, weight: endpoint.weight * clamped });
      this.reweight();
    }
  }

  /** Effective weights from fresh reports, configured weights otherwise. */
  reweight(): void {
    const stale = this.options.agent.staleAfter ?? 3 * this.options.agent.interval;
    const t = this.now();
    const weights = this.endpoints.map((e) => {
      const r = this.reports.get(e);
      return r === undefined || t - r.at > stale ? e.effectiveWeight : e.effectiveWeight * r.share;
    });
    this.wrr.reweight(weights);
  }

  /** Stops polling (the generation that owns this balancer was replaced). */
  close(): void {
    this.abort.abort();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(e: Endpoint, delayMs: number): void {
    const timer = setTimeout(() => void this.poll(e), delayMs);
    timer.unref();
    this.timers.set(e, timer);
  }

  private async poll(e: Endpoint): Promise<void> {
    const a = this.options.agent;
    try {
      const text = await readAgent({ host: e.host, port: a.port ?? e.port, path: a.path, send: a.send }, a.timeout, this.abort.signal);
      this.report(e, parseAgentReport(text));
    } catch {
      // silence: the report goes stale and the configured weight applies again
      this.reweight();
    }
    if (this.abort.signal.aborted || !this.timers.has(e)) return;
    // ±10% jitter so agents of many endpoints are not polled in lockstep
    this.schedule(e, a.interval * (0.9 + Math.random() * 0.2));
  }
}

export const resourceBased: Plugin<typeof schema, Balancer> = {
  name: 'resource-based',
  schema,
  create: (o) => new ResourceBased(o),
};
