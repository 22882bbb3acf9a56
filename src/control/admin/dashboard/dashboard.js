// Fulcrum dashboard, in the browser: reads GET /events (Server-Sent Events: `snapshot` on connect, `tick`
// every sample, `transition` per state change), keeps each series for the server's window, and draws the
// pools, endpoints and sparklines with plain DOM and SVG (no library, no build step). Drain and enable call
// the admin API's POST …/drain|enable with the token the operator typed, kept in sessionStorage for this tab.
// Text from the server is only ever set as textContent.
(function () {
  'use strict';

  const tokenKey = 'fulcrum.adminToken';
  const svgNs = 'http://www.w3.org/2000/svg';
  const metrics = ['rps', 'errorRate', 'p50', 'p99'];
  /** A sparkline spans at least this many samples, so the first minute is not squeezed into a corner. */
  const minSpan = 60;
  const maxTransitions = 100;
  const spark = { width: 120, height: 26, pad: 2 };

  const $ = (id) => document.getElementById(id);
  const ui = {
    generation: $('generation'),
    connection: $('connection'),
    clock: $('clock'),
    tokenForm: $('token-form'),
    token: $('token'),
    tokenForget: $('token-forget'),
    tokenState: $('token-state'),
    message: $('message'),
    listeners: $('listeners'),
    pools: $('pools'),
    loading: $('loading'),
    transitions: $('transitions'),
    noTransitions: $('no-transitions'),
    window: $('window'),
  };

  let windowSamples = 300;
  let intervalMs = 1000;
  let lastData = 0;
  let lastSeq = 0;
  /** Series by key: `p POOL`, `e POOL ADDRESS`, `l LISTENER`. */
  const history = new Map();
  /** Pool sections by name: { section, panic, eligible, tbody, total, rows: Map(address → row), layout }. */
  const sections = new Map();

  // ---- helpers ------------------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else if (k.startsWith('data-')) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) node.append(c);
    return node;
  }

  function pad2(n) {
    return String(n).padStart(2, '0');
  }

  function clockTime(ms) {
    const d = new Date(ms);
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }

  function format(metric, v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '–';
    if (metric === 'rps') return (v < 10 ? v.toFixed(1) : Math.round(v).toString()) + '/s';
    if (metric === 'errorRate') return (v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0) + '%';
    if (v >= 1000) return (v / 1000).toFixed(2) + ' s';
    return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + ' ms';
  }

  function lastValue(values) {
    return values.length === 0 ? null : values[values.length - 1];
  }

  function showMessage(kind, text) {
    ui.message.hidden = false;
    ui.message.className = `message message-${kind}`;
    ui.message.textContent = text;
  }

  function setConnection(kind, text) {
    ui.connection.className = `conn conn-${kind}`;
    ui.connection.textContent = text;
  }

  // ---- series -------------------------------------------------------------------------------------------

  function emptySeries() {
    return { rps: [], errorRate: [], p50: [], p99: [] };
  }

  /** Appends (tick) or replaces (snapshot) a series, keeping at most windowSamples points. */
  function record(key, series, replace) {
    let h = history.get(key);
    if (h === undefined || replace) {
      h = emptySeries();
      history.set(key, h);
    }
    for (const m of metrics) {
      const values = series[m];
      if (!Array.isArray(values)) continue;
      h[m].push(...values);
      if (h[m].length > windowSamples) h[m].splice(0, h[m].length - windowSamples);
    }
    return h;
  }

  /** Hand-drawn sparkline: one path, broken where there was no data; the newest point at the right edge. */
  function newSpark(metric) {
    const svg = document.createElementNS(svgNs, 'svg');
    svg.setAttribute('class', `spark ${metric}`);
    svg.setAttribute('viewBox', `0 0 ${spark.width} ${spark.height}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    const base = document.createElementNS(svgNs, 'line');
    base.setAttribute('class', 'base');
    base.setAttribute('x1', '0');
    base.setAttribute('x2', String(spark.width));
    base.setAttribute('y1', String(spark.height - 0.5));
    base.setAttribute('y2', String(spark.height - 0.5));
    const line = document.createElementNS(svgNs, 'path');
    line.setAttribute('class', 'line');
    const title = document.createElementNS(svgNs, 'title');
    svg.append(title, base, line);
    svg.dataset.points = '0';
    return svg;
  }

  function drawSpark(svg, metric, values) {
    const { width, height, pad } = spark;
    let max = 0;
    for (const v of values) if (v !== null && v > max) max = v;
    if (max === 0) max = 1; // a flat line along the bottom
    const span = Math.min(windowSamples, Math.max(minSpan, values.length));
    const step = (width - 2 * pad) / Math.max(1, span - 1);
    const offset = span - values.length;
    let d = '';
    let run = 0;
    let points = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null) {
        if (run === 1) d += 'h1';
        run = 0;
        continue;
      }
      const x = pad + (offset + i) * step;
      const y = height - pad - (v / max) * (height - 2 * pad);
      d += (run === 0 ? 'M' : 'L') + x.toFixed(1) + ' ' + y.toFixed(1);
      run++;
      points++;
    }
    if (run === 1) d += 'h1';
    svg.lastChild.setAttribute('d', d);
    svg.dataset.points = String(points);
    svg.firstChild.textContent = `${metric}: max ${format(metric, max)} over the last ${values.length} samples`;
  }

  /** A cell with a sparkline and the latest value. */
  function metricCell(metric) {
    const svg = newSpark(metric);
    const value = el('span', { class: 'value' }, '–');
    const cell = el('td', { class: `metric-cell ${metric}` }, el('div', { class: 'metric' }, svg, value));
    return { cell, svg, value };
  }

  function updateMetrics(cells, series) {
    for (const m of metrics) {
      drawSpark(cells[m].svg, m, series[m]);
      cells[m].value.textContent = format(m, lastValue(series[m]));
    }
  }

  // ---- pools and endpoints ------------------------------------------------------------------------------

  function applyState(row, state) {
    row.state = state;
    row.tr.className = `endpoint is-${state}`;
    row.tr.dataset.state = state;
    row.stateBadge.className = `state state-${state}`;
    row.stateBadge.textContent = state;
    if (!row.busy) {
      row.drain.disabled = state === 'draining' || state === 'disabled';
      row.enable.disabled = state === 'healthy';
    }
  }

  function endpointRow(pool, e) {
    const stateBadge = el('span', { class: 'state' });
    const weight = el('td', { class: 'weight num' });
    const inFlight = el('td', { class: 'in-flight num' });
    const cells = {};
    for (const m of metrics) cells[m] = metricCell(m);
    const drain = el('button', { type: 'button', class: 'act', 'data-verb': 'drain', title: 'no new requests; in-flight ones finish' }, 'drain');
    const enable = el('button', { type: 'button', class: 'act', 'data-verb': 'enable', title: 'back in service' }, 'enable');
    const tr = el(
      'tr',
      { class: 'endpoint', 'data-pool': pool, 'data-address': e.address },
      el('td', { class: 'address' }, e.address),
      el('td', { class: 'state-cell' }, stateBadge),
      weight,
      inFlight,
      ...metrics.map((m) => cells[m].cell),
      el('td', {}, el('div', { class: 'actions' }, drain, enable)),
    );
    const row = { tr, stateBadge, weight, inFlight, cells, drain, enable, state: '', busy: false, pool, address: e.address };
    drain.addEventListener('click', () => act(row, 'drain'));
    enable.addEventListener('click', () => act(row, 'enable'));
    return row;
  }

  function poolSection(p) {
    const panic = el('span', { class: 'pool-panic', hidden: true, title: 'too few healthy endpoints: balancing over all of them' }, 'PANIC');
    const eligible = el('span', { class: 'meta' });
    const head = el('div', { class: 'pool-head' }, el('span', { class: 'pool-name' }, p.name), el('span', { class: 'meta' }, p.algorithm || ''), eligible, panic);
    const totals = {};
    for (const m of metrics) totals[m] = metricCell(m);
    const totalInFlight = el('td', { class: 'num' });
    const total = el('tr', { class: 'total' }, el('td', {}, 'all endpoints'), el('td', {}), el('td', {}), totalInFlight, ...metrics.map((m) => totals[m].cell), el('td', {}));
    const tbody = el('tbody', {});
    const thead = el(
      'thead',
      {},
      el('tr', {}, ...['endpoint', 'state', 'weight', 'in flight', 'requests/s', 'error rate', 'p50 latency', 'p99 latency', ''].map((t) => el('th', {}, t))),
    );
    const section = el('section', { class: 'pool', 'data-pool': p.name }, head, el('table', {}, thead, tbody));
    return { section, panic, eligible, tbody, total, totals, totalInFlight, rows: new Map(), layout: '' };
  }

  function renderPool(p, replace) {
    let s = sections.get(p.name);
    if (s === undefined) {
      s = poolSection(p);
      sections.set(p.name, s);
    }
    ui.pools.append(s.section); // keeps the server's order
    const layout = p.endpoints.map((e) => e.address).join('\n');
    if (layout !== s.layout) {
      const rows = new Map();
      for (const e of p.endpoints) rows.set(e.address, s.rows.get(e.address) || endpointRow(p.name, e));
      s.rows = rows;
      s.tbody.replaceChildren(s.total, ...[...rows.values()].map((r) => r.tr));
      s.layout = layout;
    }
    s.panic.hidden = !p.panic;
    s.section.classList.toggle('in-panic', p.panic);
    s.eligible.textContent = `${p.eligible}/${p.endpoints.length} eligible`;
    let inFlight = 0;
    for (const e of p.endpoints) {
      const row = s.rows.get(e.address);
      inFlight += e.inFlight;
      applyState(row, e.state);
      row.weight.textContent = e.effectiveWeight < e.weight ? `${Number(e.effectiveWeight.toFixed(1))}→${e.weight}` : String(e.weight);
      row.weight.title = e.effectiveWeight < e.weight ? 'slow start: effective weight → configured weight' : '';
      row.inFlight.textContent = String(e.inFlight);
      updateMetrics(row.cells, record(`e ${p.name} ${e.address}`, e.series, replace));
    }
    s.totalInFlight.textContent = String(inFlight);
    updateMetrics(s.totals, record(`p ${p.name}`, p.series, replace));
  }

  function renderListeners(listeners, replace) {
    const nodes = listeners.map((l) => {
      const h = record(`l ${l.name}`, { rps: l.rps }, replace);
      const svg = newSpark('rps');
      drawSpark(svg, 'rps', h.rps);
      return el(
        'div',
        { class: 'listener', 'data-listener': l.name },
        el('strong', {}, l.name),
        el('span', { class: 'meta' }, `${l.address} · ${l.connections} connections`),
        svg,
        el('span', { class: 'value' }, format('rps', lastValue(h.rps))),
      );
    });
    ui.listeners.replaceChildren(...nodes);
  }

  function render(data, replace) {
    if (replace) {
      windowSamples = data.windowSamples;
      intervalMs = data.intervalMs;
      history.clear();
      ui.window.textContent = `${Math.round((windowSamples * intervalMs) / 60000)} minutes`;
    }
    lastData = Date.now();
    ui.loading.hidden = true;
    ui.generation.textContent = `generation ${data.generation}`;
    ui.clock.textContent = `updated ${clockTime(data.at)}`;
    renderListeners(data.listeners, replace);
    const names = new Set(data.pools.map((p) => p.name));
    for (const [name, s] of sections) {
      if (!names.has(name)) {
        s.section.remove();
        sections.delete(name);
      }
    }
    for (const p of data.pools) renderPool(p, replace);
  }

  // ---- transitions --------------------------------------------------------------------------------------

  function transitionItem(t) {
    const who = t.endpoint === null ? t.pool : `${t.pool} ${t.endpoint}`;
    const change =
      t.kind === 'weight'
        ? el('span', {}, `weight ${t.from} → ${t.to}`)
        : el('span', {}, el('span', { class: `state state-${t.from}` }, t.from), ' → ', el('span', { class: `state state-${t.to}` }, t.to));
    return el(
      'li',
      { 'data-kind': t.kind, 'data-seq': String(t.seq) },
      el('span', { class: 'when' }, clockTime(t.at)),
      el('span', { class: 'kind' }, t.kind),
      el('span', { class: 'who' }, who),
      change,
      el('span', { class: 'reason' }, t.reason),
    );
  }

  function addTransition(t) {
    if (t.seq <= lastSeq) return;
    lastSeq = t.seq;
    ui.transitions.prepend(transitionItem(t));
    while (ui.transitions.childElementCount > maxTransitions) ui.transitions.lastElementChild.remove();
    ui.noTransitions.hidden = true;
  }

  /** A transition shows on its row at once, before the next tick confirms it. */
  function applyTransition(t) {
    const s = sections.get(t.pool);
    if (s === undefined) return;
    if (t.kind === 'panic') {
      s.panic.hidden = t.to !== 'panic';
      return;
    }
    const row = t.endpoint === null ? undefined : s.rows.get(t.endpoint);
    if (row === undefined) return;
    if (t.kind === 'weight') row.weight.textContent = t.to;
    else applyState(row, t.to);
  }

  // ---- actions ------------------------------------------------------------------------------------------

  function storedToken() {
    try {
      return sessionStorage.getItem(tokenKey);
    } catch {
      return null;
    }
  }

  function showTokenState() {
    const set = storedToken() !== null;
    ui.tokenState.textContent = set ? 'token set for this tab' : 'drain and enable need the token';
    ui.tokenState.className = set ? 'meta token-set' : 'meta';
    ui.tokenForget.hidden = !set;
  }

  async function act(row, verb) {
    const token = storedToken();
    const what = `${verb} ${row.pool} ${row.address}`;
    if (token === null) {
      showMessage('error', `To ${verb} an endpoint, enter the admin token (admin.token of the running config) above.`);
      ui.token.focus();
      return;
    }
    row.busy = true;
    row.drain.disabled = true;
    row.enable.disabled = true;
    try {
      let res;
      try {
        const path = `/pools/${encodeURIComponent(row.pool)}/endpoints/${encodeURIComponent(row.address)}/${verb}`;
        res = await fetch(path, { method: 'POST', headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
      } catch (err) {
        showMessage('error', `${what}: the admin listener did not answer (${err.message}).`);
        return;
      }
      let body = null;
      try {
        body = await res.json();
      } catch {
        // not JSON: the status says enough
      }
      const errors = body !== null && Array.isArray(body.errors) ? body.errors.join('; ') : '';
      if (res.status === 401) {
        try {
          sessionStorage.removeItem(tokenKey);
        } catch {
          // storage unavailable: nothing was kept
        }
        showTokenState();
        showMessage('error', `401 Unauthorized: the admin token was refused and nothing was changed. Enter the admin.token of the running config. ${errors}`);
        ui.token.focus();
        return;
      }
      if (!res.ok || body === null) {
        showMessage('error', `${what} failed: ${res.status} ${errors}`);
        return;
      }
      showMessage('ok', `${verb}: ${row.pool} ${row.address} is now ${body.state}`);
      applyState(row, body.state);
    } finally {
      row.busy = false;
      applyState(row, row.state);
    }
  }

  ui.tokenForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = ui.token.value.trim();
    if (value === '') {
      showMessage('error', 'The admin token is empty: paste admin.token of the running config.');
      return;
    }
    try {
      sessionStorage.setItem(tokenKey, value);
    } catch {
      showMessage('error', 'This browser keeps no session storage: the token cannot be kept.');
      return;
    }
    ui.token.value = '';
    ui.message.hidden = true;
    showTokenState();
  });

  ui.tokenForget.addEventListener('click', () => {
    try {
      sessionStorage.removeItem(tokenKey);
    } catch {
      // nothing kept
    }
    showTokenState();
  });

  // ---- the stream ---------------------------------------------------------------------------------------

  function connect() {
    setConnection('connecting', 'connecting…');
    const source = new EventSource('/events');
    source.addEventListener('open', () => setConnection('live', 'live'));
    source.addEventListener('snapshot', (m) => {
      const data = JSON.parse(m.data);
      render(data, true);
      lastSeq = 0;
      ui.transitions.replaceChildren();
      ui.noTransitions.hidden = data.events.length > 0;
      for (const t of data.events) addTransition(t);
      setConnection('live', 'live');
    });
    source.addEventListener('tick', (m) => {
      render(JSON.parse(m.data), false);
      setConnection('live', 'live');
    });
    source.addEventListener('transition', (m) => {
      const t = JSON.parse(m.data);
      addTransition(t);
      applyTransition(t);
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // refused (503: too many dashboards) or the listener is gone: try again later
        source.close();
        setConnection('down', 'disconnected: retrying in 5 s');
        setTimeout(connect, 5000);
      } else {
        setConnection('connecting', 'reconnecting…');
      }
    });
  }

  setInterval(() => {
    if (lastData !== 0 && ui.connection.classList.contains('conn-live') && Date.now() - lastData > 3 * intervalMs + 1000) {
      setConnection('stale', `no data for ${Math.round((Date.now() - lastData) / 1000)} s`);
    }
  }, 1000);

  showTokenState();
  connect();
})();
