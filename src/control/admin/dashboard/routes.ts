// The live dashboard on the admin listener: `GET /` and `GET /dashboard` serve the page, `GET /dashboard/ASSET`
// its script and style sheet (plain files beside this one: no build step), `GET /events` the live stream
// (events.ts). The sampler runs from admin start to admin close. The page changes state only through the
// admin verbs (POST …/drain|enable with the bearer token), like any other client.
import { readFileSync } from 'node:fs';
import { stateEvents } from '../../../core/events.ts';
import type { Runtime } from '../../runtime.ts';
import { fail, type AdminRoute, type Reply } from '../route.ts';
import { EventHub, type EventHubOptions } from './events.ts';
import { Sampler } from './sampler.ts';
import { dashboardView, type Snapshot } from './view.ts';

/** Recent state changes sent with a snapshot. */
export const snapshotEvents = 100;

/**
 * Everything the page may load: its own script, style sheet and stream, nothing inline, nothing from another
 * origin, and it may not be framed.
 */
export const contentSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const securityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': contentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** The static assets by URL name: file beside this module and content type. */
const assets: Readonly<Record<string, { readonly file: string; readonly contentType: string }>> = {
  page: { file: 'page.html', contentType: 'text/html; charset=utf-8' },
  'dashboard.js': { file: 'dashboard.js', contentType: 'text/javascript; charset=utf-8' },
  'dashboard.css': { file: 'dashboard.css', contentType: 'text/css; charset=utf-8' },
};

const loaded = new Map<string, string>();

/** An asset's text, read once on first use. */
function asset(name: string): Reply {
  const a = assets[name];
  let text = loaded.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(a.file, import.meta.url), 'utf8');
    loaded.set(name, text);
  }
  return { status: 200, text, contentType: a.contentType, headers: securityHeaders };
}

export interface Dashboard {
  readonly routes: AdminRoute[];
  readonly sampler: Sampler;
  readonly hub: EventHub;
  /** Stops the sampler and ends every stream. */
  close(): void;
}

export function startDashboard(rt: Runtime, options: EventHubOptions & { readonly intervalMs?: number } = {}): Dashboard {
  const sampler = new Sampler(
    { pools: () => rt.generation.pools.values(), listeners: () => rt.generation.listeners.values() },
    options.intervalMs,
  );
  const hub = new EventHub(options);
  const snapshot = (): Snapshot => ({ ...dashboardView(rt, sampler), events: stateEvents.recent(snapshotEvents) });
  const unsample = sampler.onSample(() => hub.broadcast('tick', () => dashboardView(rt, sampler, 1)));
  const unsubscribe = stateEvents.subscribe((event) => hub.broadcast('transition', () => event));
  sampler.start();

  const page = { GET: () => asset('page') };
  const routes: AdminRoute[] = [
    { path: '/', pattern: /^\/$/, methods: page },
    { path: '/dashboard', pattern: /^\/dashboard\/?$/, methods: page },
    { path: '/dashboard/ASSET', pattern: /^\/dashboard\/(dashboard\.js|dashboard\.css)$/, methods: { GET: ({ params: [name] }) => asset(name) } },
    {
      path: '/events',
      pattern: /^\/events$/,
      methods: {
        GET: () => {
          if (hub.full) return fail(503, `the dashboard serves at most ${hub.maxClients} event streams at once; close a dashboard tab and retry`);
          return {
            status: 200,
            contentType: 'text/event-stream; charset=utf-8',
            headers: { 'x-accel-buffering': 'no' },
            stream: (sink) => {
              if (!hub.open(sink, snapshot)) sink.end();
            },
          };
        },
      },
    },
  ];
  return {
    routes,
    sampler,
    hub,
    close: () => {
      unsample();
      unsubscribe();
      sampler.stop();
      hub.close();
    },
  };
}
