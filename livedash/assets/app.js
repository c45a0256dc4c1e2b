// Live dashboard: draws each page from the server-sent updates of
// api/stream, one a second. No framework, no external resource.
'use strict';
(function () {
  const body = document.body;
  const PAGE = body.dataset.page;
  const BASE = body.dataset.base;
  const main = document.getElementById('main');
  const tip = document.getElementById('tip');
  const statusEl = document.getElementById('status');
  const SVGNS = 'http://www.w3.org/2000/svg';
  const MAXPOINTS = 900; // 15 minutes at one point a second
  const MAXLINES = 8;
  const COLORS = ['#2457c5', '#e4572e', '#17a67d', '#9b51e0', '#f2a541', '#0fa3b1', '#d7263d', '#6c757d'];

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    for (const c of kids) if (c != null) e.append(c);
    return e;
  }
  function sv(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }

  // ---- numbers and units ------------------------------------------------
  // unit: 's' seconds, 'bytes', 'B/s', 'ratio' (0..1 as %), or a suffix
  // such as 'req/s' (plain numbers with that suffix).
  function trim(x, digits) {
    let s = x.toFixed(digits);
    if (s.indexOf('.') >= 0) s = s.replace(/0+$/, '').replace(/\.$/, '');
    return s;
  }
  function short(x) {
    const a = Math.abs(x);
    if (a >= 1e9) return trim(x / 1e9, 2) + 'G';
    if (a >= 1e6) return trim(x / 1e6, 2) + 'M';
    if (a >= 1e4) return trim(x / 1e3, 1) + 'k';
    if (a >= 100) return trim(x, 0);
    if (a >= 10) return trim(x, 1);
    return trim(x, 2);
  }
  function fmt(v, unit, exact) {
    if (v == null || Number.isNaN(v)) return '–';
    const p = (x) => (exact ? String(+x.toPrecision(6)) : short(x));
    switch (unit) {
      case 's': {
        const a = Math.abs(v);
        if (a === 0) return '0 s';
        if (a < 1e-3) return p(v * 1e6) + ' µs';
        if (a < 1) return p(v * 1e3) + ' ms';
        return p(v) + ' s';
      }
      case 'bytes':
      case 'B/s': {
        const suf = unit === 'B/s' ? '/s' : '';
        const us = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
        let i = 0;
        let x = v;
        while (Math.abs(x) >= 1024 && i < us.length - 1) { x /= 1024; i++; }
        return (exact ? String(+x.toPrecision(6)) : trim(x, x >= 100 ? 0 : 1)) + ' ' + us[i] + suf;
      }
      case 'ratio':
        return (exact ? String(+(v * 100).toPrecision(6)) : trim(v * 100, v < 0.1 ? 2 : 1)) + ' %';
      case '':
      case undefined:
        return p(v);
      default:
        return p(v) + ' ' + unit;
    }
  }
  function niceStep(span, n) {
    const raw = span / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
    return 10 * mag;
  }
  // axisScale picks how an axis up to maxAbs shows values of unit: a divisor
  // and a short suffix for the tick labels, and a caption for units too
  // long to repeat on every tick.
  function axisScale(unit, maxAbs) {
    switch (unit) {
      case 's':
        if (maxAbs < 1e-3) return { div: 1e-6, suffix: ' µs' };
        if (maxAbs < 1) return { div: 1e-3, suffix: ' ms' };
        return { div: 1, suffix: ' s' };
      case 'bytes':
      case 'B/s': {
        const us = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
        let i = 0;
        while (maxAbs >= 1024 * 1.5 && i < us.length - 1) { maxAbs /= 1024; i++; }
        return { div: Math.pow(1024, i), suffix: ' ' + us[i] + (unit === 'B/s' ? '/s' : '') };
      }
      case 'ratio':
        return { div: 0.01, suffix: ' %' };
      case '':
      case undefined:
        return { div: 1, suffix: '' };
      default:
        return { div: 1, suffix: '', caption: unit };
    }
  }
  // decimals is the fewest decimals that show step exactly.
  function decimals(step) {
    for (let d = 0; d < 7; d++) {
      const x = step * Math.pow(10, d);
      if (Math.abs(x - Math.round(x)) < 1e-6 * Math.max(1, x)) return d;
    }
    return 7;
  }
  function hms(t) {
    const d = new Date(t);
    return d.toTimeString().slice(0, 8);
  }

  // ---- charts -----------------------------------------------------------
  // One colour per series name on a page, so that a route or a query has
  // the same colour in every chart.
  const colorIndex = new Map();
  function colorOf(name) {
    if (!colorIndex.has(name)) colorIndex.set(name, colorIndex.size);
    return COLORS[colorIndex.get(name) % COLORS.length];
  }
  class Chart {
    constructor(parent, id, title, unit, opts) {
      this.id = id;
      this.unit = unit;
      this.opts = opts || {};
      this.times = [];
      this.series = new Map(); // name -> values aligned with times
      this.card = el('div', { cls: 'card', 'data-chart': id });
      this.titleEl = el('h2', { text: title });
      this.svg = sv('svg', { class: 'chart', role: 'img', 'aria-label': title });
      this.legend = el('div', { cls: 'legend' });
      this.card.append(this.titleEl, this.svg, this.legend);
      parent.append(this.card);
      this.svg.addEventListener('mousemove', (e) => this.hover(e));
      this.svg.addEventListener('mouseleave', () => this.unhover());
    }
    reset(title, unit) {
      this.times = [];
      this.series = new Map();
      if (title != null) { this.titleEl.textContent = title; this.svg.setAttribute('aria-label', title); }
      if (unit != null) this.unit = unit;
      this.render();
    }
    push(t, values) {
      if (this.times.length && t <= this.times[this.times.length - 1]) return;
      this.times.push(t);
      const n = this.times.length;
      for (const [name, arr] of this.series) arr.push(name in values ? values[name] : null);
      for (const name in values) {
        if (!this.series.has(name)) {
          const arr = new Array(n - 1).fill(null);
          arr.push(values[name]);
          this.series.set(name, arr);
        }
      }
      if (n > MAXPOINTS) {
        this.times.shift();
        for (const arr of this.series.values()) arr.shift();
      }
    }
    // addChunk appends the points of a history chunk's chart: times, and
    // for each series its values aligned with them.
    addChunk(times, lines) {
      const names = Object.keys(lines || {});
      for (let i = 0; i < times.length; i++) {
        const v = {};
        for (const n of names) v[n] = lines[n][i];
        this.push(times[i], v);
      }
    }
    // shown returns the series drawn: the MAXLINES largest by last value.
    shown() {
      const last = (arr) => { for (let i = arr.length - 1; i >= 0; i--) if (arr[i] != null) return arr[i]; return -Infinity; };
      const all = [...this.series.entries()].filter(([, a]) => a.some((v) => v != null));
      all.sort((a, b) => (this.opts.keepOrder ? 0 : last(b[1]) - last(a[1])));
      const keep = all.slice(0, MAXLINES);
      keep.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      return { keep, hidden: all.length - keep.length };
    }
    render() {
      const svg = this.svg;
      const W = Math.max(svg.clientWidth || 460, 200);
      const H = 210;
      const L = 64, R = 12, T = 18, B = 24;
      svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
      svg.replaceChildren();
      this.geom = null;
      const { keep, hidden } = this.shown();
      const times = this.times;
      if (!times.length || !keep.length) {
        const tx = sv('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' });
        tx.textContent = times.length ? 'no data yet' : 'waiting for data…';
        svg.append(tx);
        this.legend.replaceChildren();
        this.card.dataset.points = '0';
        delete this.card.dataset.first;
        return;
      }
      let t1 = times[times.length - 1];
      let t0 = Math.min(times[0], t1 - 30e3);
      let ymax = 0, ymin = 0;
      for (const [, arr] of keep) for (const v of arr) if (v != null) { ymax = Math.max(ymax, v); ymin = Math.min(ymin, v); }
      if (this.opts.min1 && ymax < this.opts.min1) ymax = this.opts.min1;
      const sc = axisScale(this.unit, Math.max(Math.abs(ymax), Math.abs(ymin)));
      let smax = ymax / sc.div, smin = ymin / sc.div;
      if (smax === smin) smax = smin + 1;
      const step = niceStep(smax - smin, 4);
      smax = Math.ceil(smax / step - 1e-9) * step;
      smin = Math.floor(smin / step + 1e-9) * step;
      ymax = smax * sc.div;
      ymin = smin * sc.div;
      this.card.dataset.ymax = String(ymax);
      const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
      const y = (v) => T + (1 - (v - ymin) / (ymax - ymin)) * (H - T - B);
      const dec = decimals(step);
      for (let i = 0, sv0 = smin; sv0 <= smax + step / 2; i++, sv0 = smin + i * step) {
        const v = sv0 * sc.div;
        svg.append(sv('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid-line' }));
        const lab = sv('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' });
        lab.textContent = sv0.toFixed(dec) + sc.suffix;
        svg.append(lab);
      }
      if (sc.caption) {
        const cap = sv('text', { x: 4, y: 10, class: 'axis' });
        cap.textContent = sc.caption;
        svg.append(cap);
      }
      const tstep = niceStep((t1 - t0) / 1000, 5) * 1000;
      for (let t = Math.ceil(t0 / tstep) * tstep; t <= t1; t += tstep) {
        svg.append(sv('line', { x1: x(t), x2: x(t), y1: T, y2: H - B, class: 'grid-line' }));
        const lab = sv('text', { x: x(t), y: H - 6, 'text-anchor': x(t) > W - R - 28 ? 'end' : 'middle', class: 'axis' });
        lab.textContent = hms(t);
        svg.append(lab);
      }
      const lines = [];
      keep.forEach(([name, arr]) => {
        const color = colorOf(name);
        let d = '';
        let pen = false;
        for (let j = 0; j < arr.length; j++) {
          const v = arr[j];
          if (v == null) { pen = false; continue; }
          d += (pen ? 'L' : 'M') + x(times[j]).toFixed(1) + ' ' + y(v).toFixed(1);
          // A lone point between gaps is drawn as a short tick.
          if ((j === 0 || arr[j - 1] == null) && (j + 1 >= arr.length || arr[j + 1] == null)) d += 'h2';
          pen = true;
        }
        const path = sv('path', { d, class: 'line', stroke: color, 'data-series': name });
        svg.append(path);
        lines.push({ name, arr, color });
      });
      this.cursor = sv('line', { y1: T, y2: H - B, class: 'cursor', visibility: 'hidden' });
      svg.append(this.cursor);
      this.geom = { x, t0, t1, L, R, W, lines };
      this.card.dataset.points = String(times.length);
      this.card.dataset.last = String(t1);
      let first = t1;
      for (const { arr } of lines) { const j = arr.findIndex((v) => v != null); if (j >= 0) first = Math.min(first, times[j]); }
      this.card.dataset.first = String(first); // the earliest point drawn
      // Each line's last value, and its highest over the chart, which the
      // axis is scaled to.
      this.legend.replaceChildren(...lines.map(({ name, arr }) => {
        let v = null, hi = null;
        for (let j = arr.length - 1; j >= 0 && v == null; j--) v = arr[j];
        for (const x of arr) if (x != null && (hi == null || x > hi)) hi = x;
        const item = el('span', { 'data-peak': String(hi) }, el('span', { cls: 'sw' }), name, el('b', { text: fmt(v, this.unit) }));
        if (hi != null && hi !== v) item.append(el('small', { cls: 'hi', text: 'high ' + fmt(hi, this.unit) }));
        return item;
      }));
      // Colours through the CSSOM, which the page's policy allows.
      [...this.legend.querySelectorAll('.sw')].forEach((s, i) => { s.style.background = lines[i].color; });
      if (hidden > 0) this.legend.append(el('span', { cls: 'muted', text: `+${hidden} more (smaller) not drawn` }));
    }
    hover(ev) {
      const g = this.geom;
      if (!g) return;
      const rect = this.svg.getBoundingClientRect();
      const px = ((ev.clientX - rect.left) / rect.width) * g.W;
      const t = g.t0 + ((px - g.L) / (g.W - g.L - g.R)) * (g.t1 - g.t0);
      let best = 0;
      for (let j = 0; j < this.times.length; j++) if (Math.abs(this.times[j] - t) < Math.abs(this.times[best] - t)) best = j;
      const tt = this.times[best];
      this.cursor.setAttribute('x1', g.x(tt));
      this.cursor.setAttribute('x2', g.x(tt));
      this.cursor.setAttribute('visibility', 'visible');
      tip.replaceChildren(el('div', { text: new Date(tt).toLocaleTimeString() }));
      for (const { name, arr, color } of g.lines) {
        const sw = el('span', { cls: 'sw' });
        sw.style.background = color;
        tip.append(el('div', {}, sw, `${name}: ${fmt(arr[best], this.unit, true)}`));
      }
      tip.hidden = false;
      const tx = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
      tip.style.left = tx + 'px';
      tip.style.top = ev.clientY + 14 + 'px';
    }
    unhover() {
      tip.hidden = true;
      if (this.cursor) this.cursor.setAttribute('visibility', 'hidden');
    }
  }

  // ---- tables -----------------------------------------------------------
  // A column is [key, title, unit]; unit 'text' (default), 'code', 'rid'
  // (a request id, linking to its records), 'trace' (a trace id, linking
  // to its trace), 'time' (Unix ms), or a number unit for fmt.
  class Table {
    constructor(parent, id, title, cols, opts) {
      this.opts = opts || {};
      this.card = el('div', { cls: 'card wide', 'data-table': id });
      this.count = el('span', { cls: 'count' });
      this.titleEl = el('h2', { text: title }, this.count);
      this.card.append(this.titleEl);
      this.head = el('thead');
      this.tbody = el('tbody');
      // A 'full' table grows with its rows, in the page's own scroll.
      this.box = el('div', { cls: this.opts.cls === 'full' ? 'scroll full' : 'scroll' }, el('table', { cls: this.opts.cls || '' }, this.head, this.tbody));
      this.card.append(this.box);
      if (this.opts.note) this.card.append(this.opts.note);
      this.setCols(cols);
      parent.append(this.card);
    }
    setCols(cols) {
      this.cols = cols;
      this.head.replaceChildren(el('tr', {}, ...cols.map(([k, t, u]) => el('th', { cls: isNum(u) ? 'num' : '', 'data-col': k, text: t }))));
    }
    render(rows) {
      const o = this.opts;
      this.count.textContent = `${rows.length} row${rows.length === 1 ? '' : 's'}`;
      if (!rows.length) {
        this.tbody.replaceChildren(el('tr', {}, el('td', { colspan: this.cols.length, cls: 'muted', text: o.empty || 'nothing yet' })));
        return;
      }
      this.tbody.replaceChildren(...rows.map((r) => {
        const tr = el('tr', {}, ...this.cols.map(([k, , u]) => cell(r, k, u)));
        if (o.onclick) {
          tr.className = 'click';
          tr.addEventListener('click', () => o.onclick(r));
          if (o.selected && o.selected(r)) tr.className = 'click sel';
        }
        return tr;
      }));
    }
  }
  function isNum(u) { return u && !['text', 'code', 'rid', 'trace', 'time'].includes(u); }
  function traceLink(id, text) {
    const a = el('a', { cls: 'rid', href: `${BASE}/traces?trace=${encodeURIComponent(id)}`, 'data-trace': id, text: text || id });
    // On the Traces page a trace opens in place.
    a.addEventListener('click', (e) => { if (openTrace) { e.preventDefault(); e.stopPropagation(); openTrace(id); } });
    return a;
  }
  let openTrace = null;
  function cell(r, k, u) {
    const v = r[k];
    if (u === 'rid') {
      if (!v) return el('td', { cls: 'muted', text: '–' });
      return el('td', {}, el('a', { cls: 'rid', href: `${BASE}/logs?request_id=${encodeURIComponent(v)}`, text: v }));
    }
    if (u === 'trace') return el('td', {}, traceLink(v, v.slice(0, 12) + '…'));
    if (u === 'time') return el('td', { cls: 'num', text: v ? hms(v) : '' });
    // Counts in full; rates and times rounded for reading.
    if (isNum(u)) return el('td', { cls: 'num', text: fmt(v, u === 'n' ? '' : u, u === 'n') });
    return el('td', { cls: u === 'code' ? 'code' : '', text: v == null ? '' : String(v) });
  }

  // ---- pages ------------------------------------------------------------
  const LAYOUT = {
    home: {
      charts: [['rps', 'Requests', 'req/s'], ['errors', '5xx ratio', 'ratio', { min1: 0.01 }], ['p95', 'p95 latency', 's'],
        ['cpu', 'CPU', 'cores'], ['memory', 'Memory (runtime: mapped − released)', 'bytes'], ['goroutines', 'Goroutines', '']],
      before: [['info', 'Process', [['name', 'Name'], ['value', 'Value', 'code']], { cls: 'kv' }]],
      tables: [['ring', 'Log ring (records kept for the Logs page)', [['records', 'Records', 'n'], ['bytes', 'Memory', 'bytes'], ['handled', 'Handled', 'n'], ['evicted', 'Evicted', 'n']]]],
    },
    http: {
      charts: [['rate', 'Requests by route', 'req/s'], ['errors', '5xx ratio by route', 'ratio', { min1: 0.01 }],
        ['p95', 'p95 latency by route', 's'], ['latency', 'Latency quantiles, all routes', 's', { keepOrder: true }]],
      tables: [['requests', 'By route, method and status (rates and quantiles over the last 5 s)', [['route', 'Route', 'code'], ['method', 'Method'], ['status', 'Status'],
        ['rate', 'Rate', 'req/s'], ['total', 'Total', 'n'], ['p50', 'p50', 's'], ['p95', 'p95', 's'], ['p99', 'p99', 's']]]],
    },
    db: {
      charts: [['rate', 'Queries by source and operation', 'q/s'], ['p95', 'p95 query time', 's'],
        ['pool', 'Pool: connections in use against max', 'conns'], ['waits', 'Pool waits', 'waits/s']],
      tables: [['queries', 'Queries (rates and p95 over the last 5 s; those that never ran are left out)', [['source', 'Source', 'code'], ['operation', 'Operation'], ['rate', 'Rate', 'q/s'],
        ['total', 'Total', 'n'], ['p95', 'p95', 's'], ['errors', 'Errors', 'n'], ['error_rate', 'Error rate', 'err/s']]],
      ['pool', 'Pool', [['db', 'Database'], ['in_use', 'In use', 'n'], ['open', 'Open', 'n'], ['idle', 'Idle', 'n'], ['max', 'Max', 'n'],
        ['waits', 'Waits', 'n'], ['wait_seconds', 'Time waited', 's']]],
      ['slow', 'Latest slow queries (SQL shortened, never arguments)', [['time', 'Time'], ['source', 'Source'], ['operation', 'Operation'],
        ['duration', 'Duration'], ['sql', 'SQL', 'code'], ['request_id', 'Request', 'rid']], { empty: 'no slow query kept in the log ring' }]],
    },
    ws: {
      charts: [['connections', 'Connections by channel', 'conns'], ['messages', 'Messages by channel, event and direction', 'msg/s']],
      tables: [['channels', 'Channels', [['channel', 'Channel', 'code'], ['connections', 'Connections', 'n'], ['in_rate', 'In', 'msg/s'], ['out_rate', 'Out', 'msg/s']]],
        ['messages', 'Messages (rates over the last 5 s)', [['channel', 'Channel', 'code'], ['event', 'Event', 'code'], ['direction', 'Direction'], ['rate', 'Rate', 'msg/s'], ['total', 'Total', 'n']],
          { note: el('p', { cls: 'muted note', id: 'event-labels' },
            el('code', { text: 'unknown' }), ': a text message with no readable top-level "event" string (not JSON, not an object, or no such key). ',
            el('code', { text: 'binary' }), ': a binary message. ',
            el('code', { text: 'other' }), ': an event name past the allowlist or the cap of distinct names, or not a valid label. ',
            'Labels stay bounded whatever clients send.') }]],
    },
    runtime: {
      charts: [['heap', 'Heap', 'bytes'], ['goroutines', 'Goroutines', ''], ['gc', 'GC frequency', 'cycles/s'],
        ['pauses', 'GC pauses (stop the world) of the latest collections', 's', { keepOrder: true }],
        ['sched', 'Scheduler latency (runnable to running)', 's', { keepOrder: true }],
        ['cpu', 'CPU (GC: the runtime\u2019s estimate, updated at each collection)', 'cores'], ['alloc', 'Allocation rate', 'B/s'],
        ['objects', 'Live objects', '']],
      tables: [['runtime', 'Runtime (runtime/metrics)', [['name', 'Name'], ['value', 'Value', 'code']]]],
    },
  };

  function setStatus(live, text) {
    statusEl.className = 'status ' + (live ? 'live' : 'down');
    statusEl.textContent = text;
  }

  // connect opens the page's live connection; onTick gets each update.
  let source = null;
  function connect(params, onTick) {
    if (source) source.close();
    const q = new URLSearchParams(params);
    q.set('page', PAGE);
    const me = new EventSource(`${BASE}/api/stream?${q}`);
    source = me;
    // renew: the server ends each connection after a while; EventSource
    // reconnects by itself and the page carries on, without a break shown.
    let renewing = false;
    me.addEventListener('renew', () => { renewing = true; });
    me.onmessage = (e) => {
      setStatus(true, 'live · ' + hms(Date.now()));
      onTick(JSON.parse(e.data));
    };
    me.onerror = () => {
      if (me.readyState === EventSource.CLOSED) {
        // Refused (every viewer's place taken, 503): EventSource does not
        // try again by itself, so the page does, as Retry-After says.
        setStatus(false, 'dashboard busy, retrying…');
        setTimeout(() => { if (source === me) connect(params, onTick); }, 5000);
      } else if (renewing) renewing = false; // the first error after renew is the end itself
      else setStatus(false, 'reconnecting…');
    };
  }

  // addHist gives each chart its points of an update's history chunk.
  function addHist(charts, h) {
    if (!h) return;
    for (const id in h.charts) if (charts[id]) charts[id].addChunk(h.t, h.charts[id]);
  }

  function standardPage(layout) {
    const tables = {};
    for (const [id, title, cols, opts] of layout.before || []) tables[id] = new Table(main, id, title, cols, opts);
    const grid = el('div', { cls: 'grid' });
    main.append(grid);
    const charts = {};
    for (const [id, title, unit, opts] of layout.charts) charts[id] = new Chart(grid, id, title, unit, opts);
    for (const [id, title, cols, opts] of layout.tables) tables[id] = new Table(main, id, title, cols, opts);
    connect({}, (u) => {
      addHist(charts, u.hist);
      for (const id in charts) charts[id].render();
      for (const id in u.tables || {}) if (tables[id]) tables[id].render(u.tables[id]);
    });
  }

  function metricsPage() {
    const params = new URLSearchParams(location.search);
    let family = params.get('family') || '';
    let series = params.get('series') || '';
    let type = '';
    const filters = el('div', { cls: 'filters' });
    const search = el('input', { type: 'search', placeholder: 'search metric families', 'aria-label': 'search', id: 'search', size: 36 });
    filters.append(search);
    main.append(filters);
    const grid = el('div', { cls: 'grid' });
    main.append(grid);
    const chart = new Chart(grid, 'series', 'Click a family, then a series', '', { keepOrder: true });
    chart.card.classList.add('wide');
    let families = [];
    const famTable = new Table(main, 'families', 'Metric families', [['name', 'Name', 'code'], ['type', 'Type'], ['series', 'Series', 'n'], ['help', 'Help']],
      { onclick: (r) => select(r.name, ''), selected: (r) => r.name === family, cls: 'full' });
    const serTable = new Table(main, 'series', 'Series', [['labels', 'Labels', 'code'], ['value', 'Value', 'n']],
      { onclick: (r) => select(family, r.labels), selected: (r) => r.labels === series, empty: 'click a family above', cls: 'full' });
    famTable.card.before(serTable.card);
    const renderFamilies = () => {
      const s = search.value.trim().toLowerCase();
      famTable.render(families.filter((f) => !s || f.name.toLowerCase().includes(s) || (f.help || '').toLowerCase().includes(s)));
    };
    search.addEventListener('input', renderFamilies);
    // Columns by the family's type: a counter's total and rate, a gauge's
    // value, a histogram's count, sum, rate and quantiles, in its unit.
    function columns(meta) {
      const n = meta.family || '';
      const hu = n.endsWith('_seconds') ? 's' : n.endsWith('_bytes') ? 'bytes' : 'n';
      const ru = n.endsWith('_seconds_total') ? 's/s' : n.endsWith('_bytes_total') ? 'B/s' : '/s';
      switch (meta.type) {
        case 'counter': return [['labels', 'Labels', 'code'], ['value', 'Total', 'n'], ['rate', 'Rate (over 5 s)', ru]];
        case 'histogram': case 'summary': return [['labels', 'Labels', 'code'], ['count', 'Count', 'n'], ['sum', 'Sum', hu], ['rate', 'Rate', '/s'],
          ['p50', 'p50', hu], ['p95', 'p95', hu], ['p99', 'p99', hu]];
        default: return [['labels', 'Labels', 'code'], ['value', 'Value', 'n']];
      }
    }
    function unitOf(meta) {
      const n = meta.family || '';
      if (meta.type === 'counter') return n.endsWith('_seconds_total') ? 's/s' : n.endsWith('_bytes_total') ? 'B/s' : '/s';
      if (n.endsWith('_seconds')) return 's';
      if (n.endsWith('_bytes')) return 'bytes';
      return '';
    }
    function select(f, s) {
      family = f;
      series = s;
      const q = new URLSearchParams();
      if (f) q.set('family', f);
      if (s) q.set('series', s);
      history.replaceState(null, '', `${location.pathname}${q.toString() ? '?' + q : ''}`);
      chart.reset('…');
      renderFamilies();
      start();
    }
    function start() {
      connect({ family, series }, (u) => {
        if (u.tables && u.tables.families) { families = u.tables.families; renderFamilies(); }
        if (u.meta) {
          const m = u.meta;
          if (!family && m.family) { family = m.family; renderFamilies(); }
          if (m.type !== type) { type = m.type; serTable.setCols(columns(m)); }
          const what = m.type === 'counter' ? 'rate' : m.type === 'histogram' ? 'quantiles over 5 s' : m.type === 'summary' ? 'quantiles' : 'value';
          const title = `${m.family}{${m.series || ''}} · ${what}`;
          if (chart.titleEl.textContent !== title) chart.reset(title, unitOf(m));
          if (m.series && m.series !== series) series = m.series;
        }
        if (u.hist && u.hist.charts.series) chart.addChunk(u.hist.t, u.hist.charts.series);
        chart.render();
        if (u.tables && u.tables.series) serTable.render(u.tables.series);
      });
    }
    start();
  }

  function logsPage() {
    const params = new URLSearchParams(location.search);
    const filters = el('div', { cls: 'filters' });
    const level = el('select', { 'aria-label': 'level', id: 'level' },
      ...['all', 'DEBUG', 'INFO', 'WARN', 'ERROR'].map((l) => el('option', { value: l, text: l === 'all' ? 'all levels' : l + ' and above' })));
    const text = el('input', { type: 'search', placeholder: 'text in message or attributes', id: 'text', size: 30 });
    const rid = el('input', { type: 'search', placeholder: 'request_id', id: 'rid', size: 26, value: params.get('request_id') || '' });
    const tid = el('input', { type: 'search', placeholder: 'trace_id', id: 'trace', size: 30, value: params.get('trace_id') || '' });
    const clear = el('button', { type: 'button', id: 'clear', text: 'clear filters' });
    filters.append(level, text, rid, tid, clear);
    if (body.dataset.level === '1') main.append(levelControl());
    main.append(filters);
    const card = el('div', { cls: 'card wide', 'data-table': 'logs' });
    const count = el('span', { cls: 'count' });
    card.append(el('h2', { text: 'Recent records (after redaction, as every backend sees them)' }, count));
    const keeps = el('p', { cls: 'muted', id: 'keeps' });
    card.append(keeps);
    const tbody = el('tbody');
    card.append(el('div', { cls: 'scroll' }, el('table', {}, el('thead', {}, el('tr', {}, ...['Time', 'Level', 'Message', 'Request', 'Attributes'].map((t) => el('th', { text: t })))), tbody)));
    main.append(card);
    const LEVELS = { DEBUG: -4, INFO: 0, WARN: 4, ERROR: 8 };
    const HIDDEN = new Set(['service', 'environment', 'version', 'host', 'pid']);
    let records = []; // oldest first
    const seen = new Set();
    let dirty = true;
    function add(list) {
      for (const r of list) {
        if (seen.has(r.seq)) continue;
        seen.add(r.seq);
        records.push(r);
        dirty = true;
      }
      if (records.length > 3000) {
        records.sort((a, b) => a.seq - b.seq);
        for (const r of records.splice(0, records.length - 3000)) seen.delete(r.seq);
      }
    }
    function lvl(l) { const b = l.replace(/[+-]\d+$/, ''); return (LEVELS[b] ?? 0) + (parseInt(l.slice(b.length)) || 0); }
    const traceOf = (r) => { const a = r.attrs.find(([k]) => k === 'trace_id'); return a ? a[1] : ''; };
    function render() {
      if (!dirty) return;
      dirty = false;
      const min = level.value === 'all' ? -Infinity : LEVELS[level.value];
      const t = text.value.trim().toLowerCase();
      const id = rid.value.trim();
      const tr = tid.value.trim();
      const match = records.filter((r) => lvl(r.level) >= min && (!id || r.rid === id) && (!tr || traceOf(r) === tr) &&
        (!t || r.msg.toLowerCase().includes(t) || r.attrs.some(([k, v]) => k.toLowerCase().includes(t) || v.toLowerCase().includes(t))));
      match.sort((a, b) => b.seq - a.seq);
      const shown = match.slice(0, 500);
      count.textContent = `${match.length} matching of ${records.length} kept here` + (match.length > shown.length ? `, newest ${shown.length} shown` : '');
      tbody.replaceChildren(...shown.map((r) => {
        const base = r.level.replace(/[+-]\d+$/, '');
        const ridCell = r.rid ? el('td', {}, el('a', { cls: 'rid', text: r.rid, onclick: (e) => { e.preventDefault(); byRequest(r.rid); } })) : el('td', { cls: 'muted', text: '–' });
        const attrs = el('td', { cls: 'attrs code' });
        for (const [k, v] of r.attrs) {
          if (HIDDEN.has(k) || k === 'request_id') continue;
          // A trace id opens its trace, when the dashboard keeps spans.
          const val = k === 'trace_id' && TRACES && /^[0-9a-f]{32}$/.test(v) ? traceLink(v) : v;
          attrs.append(el('span', {}, el('i', { text: k + '=' }), val));
        }
        return el('tr', { 'data-rid': r.rid || '', 'data-trace': traceOf(r) }, el('td', { cls: 'num', text: r.t ? hms(r.t) + '.' + String(r.t % 1000).padStart(3, '0') : '' }),
          el('td', {}, el('span', { cls: 'lvl ' + base, text: r.level })), el('td', { cls: 'msg', text: r.msg }), ridCell, attrs);
      }));
      if (!shown.length) tbody.replaceChildren(el('tr', {}, el('td', { colspan: 5, cls: 'muted', text: records.length ? 'no record matches the filters' : 'waiting for records…' })));
    }
    function address() {
      const q = new URLSearchParams();
      if (rid.value.trim()) q.set('request_id', rid.value.trim());
      if (tid.value.trim()) q.set('trace_id', tid.value.trim());
      history.replaceState(null, '', `${location.pathname}${q.toString() ? '?' + q : ''}`);
    }
    // query shows every record of one request or trace that the ring
    // still has.
    function query(key, id) {
      address();
      dirty = true;
      render();
      fetch(`${BASE}/api/logs?${key}=${encodeURIComponent(id)}`, { credentials: 'same-origin' })
        .then((r) => (r.ok ? r.json() : { records: [] }))
        .then((j) => { add(j.records || []); dirty = true; render(); })
        .catch(() => {});
    }
    function byRequest(id) { rid.value = id; query('request_id', id); }
    // Typing re-filters once it pauses, not on every key.
    let pending = 0;
    const later = () => { dirty = true; clearTimeout(pending); pending = setTimeout(render, 120); };
    for (const c of [level, text, rid, tid]) c.addEventListener('input', later);
    rid.addEventListener('change', () => { if (rid.value.trim()) byRequest(rid.value.trim()); });
    tid.addEventListener('change', () => { if (tid.value.trim()) query('trace_id', tid.value.trim()); });
    clear.addEventListener('click', () => {
      level.value = 'all'; text.value = ''; rid.value = ''; tid.value = '';
      address();
      dirty = true; render();
    });
    if (rid.value) byRequest(rid.value);
    if (tid.value) query('trace_id', tid.value);
    connect({}, (u) => { if (u.meta && u.meta.keeps) keeps.textContent = u.meta.keeps; add(u.logs || []); render(); });
    render();
  }

  // ---- traces -----------------------------------------------------------
  function tracesPage() {
    if (body.dataset.tracesOff) {
      // No spans kept: say why, and how to turn traces on.
      main.append(el('div', { cls: 'card wide', id: 'traces-off' }, el('h2', { text: 'Traces are off' }), el('p', { text: body.dataset.tracesOff })));
      connect({}, () => {});
      return;
    }
    const keeps = el('p', { cls: 'muted', id: 'keeps' });
    main.append(keeps);
    const view = el('div', { id: 'trace-view' });
    main.append(view);
    const latest = new Table(main, 'traces', 'Latest traces', [['start', 'Time', 'time'], ['root', 'Root span', 'code'], ['dur', 'Duration', 's'],
      ['spans', 'Spans', 'n'], ['errors', 'Errors', 'n'], ['service', 'Service'], ['trace', 'Trace', 'trace']],
    { onclick: (r) => open(r.trace), empty: 'no trace kept yet' });
    const slow = new Table(main, 'routes', 'Slowest trace of each route (root span name)', [['route', 'Route', 'code'], ['count', 'Traces', 'n'],
      ['errors', 'Errors', 'n'], ['p50', 'p50', 's'], ['max', 'Slowest', 's'], ['trace', 'Slowest trace', 'trace']],
    { onclick: (r) => open(r.trace), empty: 'no trace kept yet' });
    let shown = '';
    // open shows one trace: a waterfall of its spans, then its records.
    function open(id) {
      shown = id;
      history.replaceState(null, '', `${location.pathname}?trace=${encodeURIComponent(id)}`);
      const card = el('div', { cls: 'card wide', 'data-trace-view': id });
      card.append(el('h2', { text: 'Trace ' + id }));
      view.replaceChildren(card);
      const get = (u) => fetch(u, { credentials: 'same-origin' }).then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status + ' ' + r.statusText))));
      get(`${BASE}/api/trace?id=${encodeURIComponent(id)}`).then((j) => {
        if (shown !== id) return;
        waterfall(card, id, j.spans || [], j.truncated);
        return get(`${BASE}/api/logs?trace_id=${encodeURIComponent(id)}`).then((l) => { if (shown === id) traceLogs(card, id, l.records || []); });
      }).catch((e) => card.append(el('p', { cls: 'muted', text: 'could not load the trace: ' + e.message })));
      card.scrollIntoView({ block: 'start' });
    }
    openTrace = open;
    function waterfall(card, id, spans, truncated) {
      if (!spans.length) {
        card.append(el('p', { cls: 'muted', text: 'No span of this trace is kept: the ring keeps the latest spans only, and while nobody watches what the note above says.' }));
        return;
      }
      const byId = new Map(spans.map((s) => [s.span, s]));
      const kids = new Map();
      const roots = [];
      for (const s of spans) {
        if (s.parent && byId.has(s.parent)) {
          if (!kids.has(s.parent)) kids.set(s.parent, []);
          kids.get(s.parent).push(s);
        } else roots.push(s);
      }
      const t0 = Math.min(...spans.map((s) => s.start));
      const t1 = Math.max(...spans.map((s) => s.end));
      const span = Math.max(t1 - t0, 1);
      const errors = spans.filter((s) => s.status === 'error').length;
      const root = roots[0];
      card.append(el('p', { cls: 'trace-sum' },
        el('b', { text: root.name }), ` · ${fmt((t1 - t0) / 1e6, 's')} · ${spans.length} span${spans.length === 1 ? '' : 's'}`,
        errors ? el('span', { cls: 'lvl ERROR', text: `${errors} error${errors === 1 ? '' : 's'}` }) : null,
        truncated ? el('span', { cls: 'muted', text: ' (more spans than shown)' }) : null,
        ' · ', el('a', { cls: 'rid', id: 'trace-logs-link', href: `${BASE}/logs?trace_id=${encodeURIComponent(id)}`, text: 'its records on the Logs page' })));
      const wf = el('div', { cls: 'waterfall', 'data-table': 'waterfall' });
      const walk = (s, depth) => {
        const ok = s.status !== 'error';
        const bar = el('div', { cls: 'wf-bar' + (ok ? '' : ' error') });
        bar.style.left = ((s.start - t0) / span) * 100 + '%';
        bar.style.width = Math.max(((s.end - s.start) / span) * 100, 0.3) + '%';
        const begin = ((s.start - t0) / span) * 100;
        const end = ((s.end - t0) / span) * 100;
        // After the bar; inside its end when there is no room after it;
        // before its start when the bar is too short to hold it.
        const where = end <= 85 ? '' : end - begin >= 12 ? ' in' : ' before';
        const label = el('span', { cls: 'wf-dur' + where, text: fmt((s.end - s.start) / 1e6, 's') });
        if (where === ' in') label.style.right = 100 - end + '%';
        else if (where === ' before') label.style.right = 100 - begin + '%';
        else label.style.left = end + '%';
        const name = el('div', { cls: 'wf-name' }, el('span', { cls: 'kind', text: s.kind }), s.name,
          ok ? null : el('span', { cls: 'lvl ERROR', text: 'error' }));
        name.style.paddingLeft = 4 + depth * 14 + 'px';
        const row = el('div', { cls: 'wf-row' + (ok ? '' : ' error'), 'data-span': s.span, 'data-depth': String(depth), 'data-name': s.name },
          name, el('div', { cls: 'wf-track' }, bar, label));
        const detail = el('div', { cls: 'wf-detail', hidden: '' });
        row.addEventListener('click', () => {
          if (!detail.childElementCount) spanDetail(detail, s, t0);
          detail.hidden = !detail.hidden;
        });
        wf.append(row, detail);
        for (const k of (kids.get(s.span) || []).sort((a, b) => a.start - b.start)) walk(k, depth + 1);
      };
      for (const r of roots.sort((a, b) => a.start - b.start)) walk(r, 0);
      card.append(wf);
    }
    function kvTable(attrs) {
      return el('table', { cls: 'kvt' }, el('tbody', {}, ...attrs.map(([k, v]) => el('tr', {}, el('td', { cls: 'muted', text: k }), el('td', { cls: 'code', text: v })))));
    }
    function spanDetail(box, s, t0) {
      const facts = [['span_id', s.span], ['parent', s.parent || '–'], ['kind', s.kind], ['service', s.service],
        ['start', `+${fmt((s.start - t0) / 1e6, 's')}`], ['duration', fmt((s.end - s.start) / 1e6, 's')]];
      if (s.status) facts.push(['status', s.status + (s.message ? ': ' + s.message : '')]);
      box.append(el('h3', { text: 'Attributes' }), kvTable(facts.concat(s.attrs)));
      if (s.events.length) {
        box.append(el('h3', { text: 'Events' }));
        for (const e of s.events) {
          box.append(el('div', { cls: 'wf-event' }, el('b', { text: e.name }), ` at +${fmt((e.t - t0) / 1e6, 's')}`), kvTable(e.attrs));
        }
      }
    }
    function traceLogs(card, id, records) {
      const t = new Table(card, 'trace-logs', 'Its log records (kept in the log ring)', [['t', 'Time', 'time'], ['level', 'Level'], ['msg', 'Message'], ['span', 'Span', 'code'], ['attrs', 'Attributes', 'code']],
        { empty: 'no record of this trace is kept in the log ring' });
      const HIDDEN = new Set(['service', 'environment', 'version', 'host', 'pid', 'trace_id', 'span_id']);
      t.render(records.map((r) => ({ t: r.t, level: r.level, msg: r.msg, span: (r.attrs.find(([k]) => k === 'span_id') || ['', ''])[1],
        attrs: r.attrs.filter(([k]) => !HIDDEN.has(k)).map(([k, v]) => k + '=' + v).join(' ') })));
    }
    connect({}, (u) => {
      if (!u.traces) return;
      keeps.textContent = u.traces.keeps;
      latest.render(u.traces.latest);
      slow.render(u.traces.slowest);
    });
    const want = new URLSearchParams(location.search).get('trace');
    if (want) open(want);
  }

  // ---- the logger's level (Options.Level) --------------------------------
  // levelControl shows the level in force and sets another, until changed
  // or for a while (then the level reverts by itself).
  function levelControl() {
    const url = `${BASE}/api/level`;
    const pick = el('select', { 'aria-label': 'logger level', id: 'log-level' },
      ...['debug', 'info', 'warn', 'error'].map((l) => el('option', { value: l, text: l.toUpperCase() })));
    const dur = el('select', { 'aria-label': 'for how long', id: 'log-level-for' },
      ...[['', 'until changed'], ['1m', 'for 1 min'], ['10m', 'for 10 min'], ['1h', 'for 1 h']].map(([v, t]) => el('option', { value: v, text: t })));
    const set = el('button', { type: 'button', id: 'log-level-set', text: 'set level' });
    const state = el('span', { cls: 'muted', id: 'log-level-state', text: 'reading the level…' });
    let picked = false; // the person's choice, not overwritten by a read
    pick.addEventListener('change', () => { picked = true; });
    const show = (j) => {
      if (!picked) pick.value = j.level;
      state.dataset.level = j.level;
      state.textContent = j.revert_at ? `logging at ${j.level.toUpperCase()} until ${hms(Date.parse(j.revert_at))}, then ${j.revert_to.toUpperCase()}`
        : `logging at ${j.level.toUpperCase()} and above, every backend`;
    };
    const call = (init) => fetch(url, Object.assign({ credentials: 'same-origin', headers: { Accept: 'application/json', 'Content-Type': 'application/json' } }, init))
      .then((r) => (r.ok ? r.json() : r.text().then((t) => Promise.reject(new Error(t.trim() || r.status + ' ' + r.statusText)))));
    const read = () => call({}).then(show).catch((e) => { state.textContent = 'could not read the level: ' + e.message; });
    set.addEventListener('click', () => {
      const req = { level: pick.value };
      if (dur.value) req.for = dur.value;
      call({ method: 'PUT', body: JSON.stringify(req) }).then((j) => { picked = false; show(j); })
        .catch((e) => { state.textContent = 'could not set the level: ' + e.message; });
    });
    read();
    setInterval(read, 10000); // changed elsewhere (/loglevel), or reverted
    return el('div', { cls: 'filters', id: 'log-level-ctl' }, el('b', { text: 'Logger level' }), pick, dur, set, state);
  }

  // ---- profiles (Options.Profiles) ----------------------------------------
  function profileLinks() {
    const p = `${BASE}/debug/pprof/`;
    const a = (href, text, file) => el('a', Object.assign({ href }, file ? { download: file } : { target: '_blank', rel: 'noopener' }), text);
    return el('p', { cls: 'card wide', id: 'profiles' }, el('b', { text: 'Profiles: ' }),
      a(p + 'profile?seconds=10', 'CPU profile (10 s)', 'cpu.pprof'), ' · ', a(p + 'heap', 'heap profile', 'heap.pprof'), ' · ',
      a(p + 'goroutine?debug=2', 'goroutine dump'), ' · ', a(p, 'every profile'),
      el('span', { cls: 'muted' }, ' — open a downloaded one with ', el('code', { text: 'go tool pprof -http=: cpu.pprof' })));
  }

  const TRACES = body.dataset.traces === '1';
  if (PAGE === 'runtime' && body.dataset.profiles === '1') main.append(profileLinks());
  if (PAGE === 'metrics') metricsPage();
  else if (PAGE === 'logs') logsPage();
  else if (PAGE === 'traces') tracesPage();
  else standardPage(LAYOUT[PAGE]);
})();
