// A listener's ordered rules (routes), built once per generation and matched per request: the first rule, by
// priority (higher first) then file order, whose match holds. Built on update, picked on request (Pingora).
//
// An index keeps the scan to the rules that can match the request's host and first path segment:
//
//   byHost  "api.example.com" ─┐                      bucket: rules naming that host + wildcards covering it
//   bySuffix ".example.com" ───┼─► Bucket ─► by first path segment ("api") ─► candidates, in rule order
//   (no host condition) ───────┘  hostless   (segment-less rules merged in)
//
// A request scans its host bucket and the host-less bucket together, merged by rule order, so the first
// match is exactly what a linear scan of every rule would find (the property test in
// test/unit/routing/rule-table.test.ts checks this). Conditions inside `not`/`any` are never indexed.
import type { RouteRequest } from './request.ts';
import { compileMatch, type Matcher } from './match/compile.ts';
import { splitHostPatterns } from './match/host.ts';
import { firstSegment, pathSegmentKey } from './match/path.ts';
import type { MatchConfig } from './match/schema.ts';

export interface Rule<T> {
  /** Higher first; equal priorities keep file order. */
  readonly priority: number;
  readonly match: MatchConfig;
  readonly value: T;
}

interface Entry<T> {
  /** Position in match order. */
  readonly order: number;
  /** The match without its top-level host condition (the index has already checked it). */
  readonly test: Matcher;
  readonly value: T;
  /** The first path segment every matching path has, or null. */
  readonly segment: string | null;
}

/** A bucket with at least this many rules is indexed by first path segment. */
const segmentIndexMin = 8;
/** An index may repeat segment-less rules under each segment, up to this many entries per rule. */
const segmentIndexSpread = 8;

/** Rules that share a host criterion, in order; indexed by first path segment when that pays. */
class Bucket<T> {
  readonly all: readonly Entry<T>[];
  /** Segment → rules with that segment merged with the segment-less ones; null when not indexed. */
  readonly bySegment: ReadonlyMap<string, readonly Entry<T>[]> | null;
  /** The segment-less rules: candidates for a segment no rule names. */
  readonly open: readonly Entry<T>[];

  constructor(entries: readonly Entry<T>[]) {
    this.all = entries;
    this.open = entries.filter((e) => e.segment === null);
    const keys = new Set<string>();
    for (const e of entries) if (e.segment !== null) keys.add(e.segment);
    const indexed =
      entries.length >= segmentIndexMin && keys.size > 1 && keys.size * this.open.length <= segmentIndexSpread * entries.length;
    if (!indexed) {
      this.bySegment = null;
      return;
    }
    const bySegment = new Map<string, Entry<T>[]>();
    for (const key of keys) bySegment.set(key, entries.filter((e) => e.segment === key || e.segment === null));
    this.bySegment = bySegment;
  }

  candidates(segment: string | null): readonly Entry<T>[] {
    if (this.bySegment === null) return this.all;
    return (segment === null ? undefined : this.bySegment.get(segment)) ?? this.open;
  }
}

const noEntries: readonly Entry<never>[] = [];

export class RuleTable<T> {
  /** The rules' values in match order (priority, then file order). */
  readonly rules: readonly T[];
  readonly size: number;
  private readonly byHost: ReadonlyMap<string, Bucket<T>>;
  /** Wildcard suffix (".example.com") → bucket for hosts it is the longest indexed suffix of; null if none. */
  private readonly bySuffix: ReadonlyMap<string, Bucket<T>> | null;
  private readonly hostless: Bucket<T>;
  /** Whether any bucket needs the first path segment. */
  private readonly usesSegment: boolean;

  constructor(rules: ReadonlyArray<Rule<T>>) {
    for (const r of rules) {
      if (!Number.isFinite(r.priority)) throw new TypeError(`rule priority must be a finite number, got ${r.priority}`);
    }
    const ordered = rules.map((r, i) => ({ r, i })).sort((a, b) => b.r.priority - a.r.priority || a.i - b.i).map((x) => x.r);
    this.rules = ordered.map((r) => r.value);
    this.size = ordered.length;

    const hostless: Entry<T>[] = [];
    /** Exact host → orders of rules naming it; wildcard suffix → orders of rules with it. */
    const exactRules = new Map<string, number[]>();
    const suffixRules = new Map<string, number[]>();
    const entries = ordered.map((rule, order): Entry<T> => {
      const { host, ...rest } = rule.match;
      const segment = rule.match.path === undefined ? null : pathSegmentKey(rule.match.path);
      const entry: Entry<T> = { order, test: compileMatch(host === undefined ? rule.match : rest), value: rule.value, segment };
      if (host === undefined) {
        hostless.push(entry);
      } else {
        const { exact, suffixes } = splitHostPatterns(host);
        for (const h of exact) pushTo(exactRules, h, order);
        for (const s of suffixes) pushTo(suffixRules, s, order);
      }
      return entry;
    });

    /** The rules whose wildcards cover every host ending in `name` beyond its first character. */
    const coveringWildcards = (name: string, from: number, into: Set<number>) => {
      for (let i = name.indexOf('.', from); i >= 0; i = name.indexOf('.', i + 1)) {
        const orders = suffixRules.get(name.slice(i));
        if (orders !== undefined) for (const o of orders) into.add(o);
      }
    };
    const bucketOf = (orders: Set<number>) => new Bucket([...orders].sort((a, b) => a - b).map((o) => entries[o]));

    const byHost = new Map<string, Bucket<T>>();
    for (const [host, orders] of exactRules) {
      const all = new Set(orders);
      coveringWildcards(host, 1, all);
      byHost.set(host, bucketOf(all));
    }
    // A host no rule names falls to its longest wildcard suffix; that bucket holds every wildcard that is a
    // suffix of it, which are exactly the wildcards covering the host.
    let bySuffix: Map<string, Bucket<T>> | null = null;
    if (suffixRules.size > 0) {
      bySuffix = new Map();
      for (const suffix of suffixRules.keys()) {
        const all = new Set<number>();
        coveringWildcards(suffix, 0, all);
        bySuffix.set(suffix, bucketOf(all));
      }
    }
    this.byHost = byHost;
    this.bySuffix = bySuffix;
    this.hostless = new Bucket(hostless);
    let usesSegment = this.hostless.bySegment !== null;
    for (const b of byHost.values()) usesSegment ||= b.bySegment !== null;
    if (bySuffix !== null) for (const b of bySuffix.values()) usesSegment ||= b.bySegment !== null;
    this.usesSegment = usesSegment;
  }

  /** The bucket of the rules whose host condition holds for `host`, or null. */
  private hostBucket(host: string): Bucket<T> | null {
    const exact = this.byHost.get(host);
    if (exact !== undefined) return exact;
    const bySuffix = this.bySuffix;
    if (bySuffix === null) return null;
    // Longest suffix first; i ≥ 1 so the host is longer than the suffix.
    for (let i = host.indexOf('.', 1); i >= 0; i = host.indexOf('.', i + 1)) {
      const bucket = bySuffix.get(host.slice(i));
      if (bucket !== undefined) return bucket;
    }
    return null;
  }

  /**
   * The value of the first rule whose match holds, or null (the caller answers 404 `no_route`).
   * HOT PATH: two Map lookups (host, first segment), then a merged scan of the candidates; no allocation
   * beyond the segment and suffix strings.
   */
  match(req: RouteRequest): T | null {
    const bucket = this.byHost.size === 0 && this.bySuffix === null ? null : this.hostBucket(req.host());
    const segment = this.usesSegment ? firstSegment(req.path()) : null;
    const a = bucket === null ? noEntries : bucket.candidates(segment);
    const b = this.hostless.candidates(segment);
    let j = 0;
    for (let i = 0; i < a.length; i++) {
      const ea = a[i];
      for (; j < b.length && b[j].order < ea.order; j++) if (b[j].test(req)) return b[j].value;
      if (ea.test(req)) return ea.value;
    }
    for (; j < b.length; j++) if (b[j].test(req)) return b[j].value;
    return null;
  }
}

function pushTo(map: Map<string, number[]>, key: string, order: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [order]);
  else list.push(order);
}
