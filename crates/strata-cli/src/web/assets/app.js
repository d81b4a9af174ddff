// strata lab — the web view of a run. Plain JavaScript and SVG, no
// framework, nothing fetched but this server's own JSON API.
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const KEYS = ['scenario', 'seed', 'loss', 'burst', 'rtt', 'rate', 'reorder', 'dup', 'corrupt',
  'mtu', 'cc', 'sack', 'timestamps', 'bytes', 'count', 'closer'];
const TCP_ONLY = ['burst', 'reorder', 'dup', 'corrupt', 'mtu', 'cc', 'sack', 'timestamps', 'bytes', 'closer'];
const STATE_COLOURS = {
  CLOSED: '#e9ecef', LISTEN: '#d0ebff', 'SYN-SENT': '#ffe8cc', 'SYN-RECEIVED': '#ffe8cc',
  ESTABLISHED: '#b2f2bb', 'FIN-WAIT-1': '#ffd8a8', 'FIN-WAIT-2': '#ffc078', 'CLOSE-WAIT': '#eebefa',
  CLOSING: '#fcc2d7', 'LAST-ACK': '#d0bfff', 'TIME-WAIT': '#ced4da',
};

const app = { run: null, query: '', selected: null, rowByN: new Map(), frameToken: 0 };

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function status(msg, isError) {
  const s = $('status');
  s.textContent = msg;
  s.className = isError ? 'error' : '';
}

// ---------------------------------------------------------------------------
// The form and the URL: ?scenario=…&seed=… is the run, #frame=N the frame.

function formToQuery() {
  const f = $('options');
  const p = [];
  for (const k of KEYS) {
    const input = f.elements[k];
    if (!input || input.closest('label').classList.contains('off')) continue;
    const v = input.value.trim();
    if (v !== '' || k === 'scenario') p.push(encodeURIComponent(k) + '=' + encodeURIComponent(v || 'echo'));
  }
  return p.join('&');
}

function queryToForm(qs) {
  const f = $('options');
  const params = new URLSearchParams(qs);
  for (const k of KEYS) {
    const input = f.elements[k];
    if (!input) continue;
    const v = params.get(k);
    input.value = v === null ? (k === 'scenario' ? 'echo' : '') : v;
  }
  adaptForm();
}

function adaptForm() {
  const f = $('options');
  const sc = f.elements.scenario.value;
  const tcp = sc === 'bulk' || sc === 'http' || sc === 'echo';
  for (const k of TCP_ONLY) f.elements[k].closest('label').classList.toggle('off', !tcp);
  f.elements.bytes.closest('label').classList.toggle('off', !(sc === 'bulk' || sc === 'http'));
  f.elements.count.closest('label').classList.toggle('off', sc === 'bulk' || sc === 'http');
  f.elements.closer.closest('label').classList.toggle('off', !(sc === 'http' || sc === 'echo'));
  f.elements.bytes.placeholder = sc === 'http' ? '1024' : '64k';
  f.elements.count.placeholder = sc === 'udp' ? '20' : '4';
  f.elements.rtt.placeholder = tcp ? '20ms' : '400us';
}

function frameFromHash() {
  const m = /(?:^#|&)frame=(\d+)/.exec(location.hash);
  return m ? Number(m[1]) : null;
}

// ---------------------------------------------------------------------------
// Running

async function getJson(url) {
  const r = await fetch(url);
  let body;
  try { body = await r.json(); } catch (e) { body = { error: 'the server answered ' + r.status + ' without JSON' }; }
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

async function run(qs) {
  document.body.dataset.state = 'loading';
  status('running ' + qs + ' …');
  $('run').disabled = true;
  try {
    const data = await getJson('api/run?' + qs);
    app.run = data;
    app.query = data.query;
    const hash = location.hash;
    history.replaceState(null, '', '?' + data.query + hash);
    queryToForm(data.query);
    render(data);
    const n = frameFromHash();
    if (n !== null && app.rowByN.has(n)) await select(n, true);
    status(data.scenario + ', seed ' + data.seed + ': ' + data.frames + ' frames, ' +
      fmtTime(data.end_ns) + ' of virtual time — the URL replays this run');
    document.body.dataset.state = 'ready';
  } catch (e) {
    status(e.message, true);
    document.body.dataset.state = 'error';
  } finally {
    $('run').disabled = false;
  }
}

// ---------------------------------------------------------------------------
// Formatting

function fmtTime(ns) {
  const s = ns / 1e9;
  if (s >= 1) return s.toFixed(3) + ' s';
  if (s >= 1e-3) return (s * 1e3).toFixed(2) + ' ms';
  return (s * 1e6).toFixed(0) + ' µs';
}

function fmtBytes(b) {
  if (b >= 1 << 20) return (b / (1 << 20)).toFixed(1) + ' MiB';
  if (b >= 1 << 10) return (b / (1 << 10)).toFixed(1) + ' KiB';
  return b + ' B';
}

function fmtRate(bps) {
  if (bps >= 1e9) return bps / 1e9 + ' Gbit/s';
  if (bps >= 1e6) return bps / 1e6 + ' Mbit/s';
  if (bps >= 1e3) return bps / 1e3 + ' kbit/s';
  return bps + ' bit/s';
}

function niceTicks(max, count) {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = 0; v <= max * 1.0001; v += step) ticks.push(v);
  return ticks;
}

// ---------------------------------------------------------------------------
// Drawing a run

function render(data) {
  renderLadder(data);
  renderStates(data);
  renderPlots(data);
  renderTopology(data);
  renderReport(data);
  $('decode').replaceChildren(el('p', { class: 'hint', text: 'Click a frame on the ladder (↑/↓ move).' }));
  delete $('decode').dataset.frame;
  app.selected = null;
}

function renderLadder(data) {
  const [a, b] = data.parties;
  $('ladder-head').replaceChildren(
    el('span'),
    el('div', { class: 'parties' },
      el('span', { text: a.name + ' ' + a.ip }), el('span', { text: b.name + ' ' + b.ip })));
  $('ladder-info').textContent = data.frames + ' frames';
  const box = $('ladder');
  const rows = [];
  app.rowByN = new Map();
  for (const r of data.rows) {
    const cls = ['row', r.kind];
    if (r.side) cls.push(r.kind === 'frame' ? 'from-' + r.side : 'side-' + r.side);
    if (r.lost) cls.push('lost');
    if (r.retransmission) cls.push('retransmission');
    const lane = el('div', { class: 'lane' });
    if (r.kind === 'frame') {
      const label = (r.retransmission ? 'RETRANSMISSION ' : '') + r.label + (r.lost ? '  (lost)' : '');
      lane.append(el('div', { class: 'arrow' }), el('span', { class: 'label', text: label }));
      lane.title = [label].concat(r.detail).join('\n');
    } else {
      lane.textContent = (r.kind === 'lesson' ? '» ' : '') + r.label;
    }
    const row = el('div', { class: cls.join(' ') },
      el('span', { class: 't', text: r.t }), el('span', { class: 'n', text: r.n || '' }), lane);
    if (r.kind === 'frame') {
      row.dataset.n = r.n;
      row.dataset.t = r.t_ns;
      app.rowByN.set(r.n, row);
    }
    rows.push(row);
  }
  if (data.rows_omitted > 0) {
    rows.push(el('div', { class: 'omitted', text: data.rows_omitted +
      ' more rows left out (download the pcap for every frame)' }));
  }
  box.replaceChildren(...rows);
  box.scrollTop = 0;
}

async function select(n, scroll) {
  const row = app.rowByN.get(n);
  if (!row || !app.run) return;
  if (app.selected) app.selected.classList.remove('selected');
  row.classList.add('selected');
  app.selected = row;
  if (scroll) row.scrollIntoView({ block: 'center' });
  history.replaceState(null, '', '?' + app.query + '#frame=' + n);
  setMarker(Number(row.dataset.t));
  const token = ++app.frameToken;
  const decode = $('decode');
  decode.dataset.state = 'loading';
  try {
    const f = await getJson('api/frame?' + app.query + '&n=' + n);
    if (token !== app.frameToken) return;
    renderFrame(f, row);
    decode.dataset.frame = String(n);
    decode.dataset.state = 'ready';
  } catch (e) {
    if (token !== app.frameToken) return;
    decode.replaceChildren(el('p', { class: 'hint', text: 'frame ' + n + ': ' + e.message }));
    decode.dataset.state = 'error';
  }
}

function renderFrame(f, row) {
  const parts = [el('h3', { text: 'Frame ' + f.n + ' — ' + f.len + ' bytes captured, ' + (f.len + 4) +
    ' on the wire with the FCS' + (row.classList.contains('lost') ? ' — lost on the way' : '') })];
  // The layers nested as they are on the wire: Ethernet around IPv4 around TCP…
  let outer = null;
  let inner = null;
  let trailer = null;
  for (const l of f.layers) {
    const box = el('div', { class: 'layer ' + l.layer },
      el('div', { class: 'title', text: l.title }),
      el('ul', {}, ...l.lines.map((t) => el('li', { text: t }))));
    if (l.title === 'after the payload') { trailer = box; continue; }
    if (!outer) outer = box; else inner.append(box);
    inner = box;
  }
  if (outer) parts.push(outer);
  if (trailer) parts.push(trailer);
  const pre = el('pre', { class: 'hex' });
  for (let off = 0; off < f.len; off += 16) {
    pre.append(el('span', { class: 'off', text: off.toString(16).padStart(4, '0') + '  ' }));
    for (let i = off; i < Math.min(off + 16, f.len); i++) {
      pre.append(el('span', { class: f.owner[i], text: f.hex.substr(2 * i, 2) }), ' ');
    }
    pre.append('\n');
  }
  const legend = el('div', { class: 'legend' }, ...['ethernet', 'network', 'transport', 'data', 'padding']
    .map((k) => el('span', {}, el('i', { style: 'background: var(--' + k + ')' }),
      { ethernet: 'Ethernet', network: 'IPv4/ARP', transport: 'TCP/UDP/ICMP', data: 'data', padding: 'padding' }[k])));
  parts.push(el('div', { class: 'title', text: 'the frame in hex, by layer' }), legend, pre);
  $('decode').replaceChildren(...parts);
}

// One time axis for the state bands and the plots.
function timeAxis(g, x, y0, y1, end) {
  for (const v of niceTicks(end, 6)) {
    const xx = x(v);
    g.append(svg('line', { class: 'grid', x1: xx, x2: xx, y1: y0, y2: y1 }));
    g.append(svg('text', { x: xx, y: y1 + 12, 'text-anchor': 'middle' }, fmtTime(v)));
  }
}

function setMarker(tNs) {
  for (const s of document.querySelectorAll('svg[data-end]')) {
    const m = s.querySelector('.marker');
    if (!m) continue;
    const x0 = Number(s.dataset.x0), x1 = Number(s.dataset.x1), end = Number(s.dataset.end);
    const x = x0 + (end > 0 ? (tNs / end) * (x1 - x0) : 0);
    m.setAttribute('x1', x); m.setAttribute('x2', x);
    m.setAttribute('visibility', 'visible');
  }
}

function timeSvg(height, end) {
  const W = 640, x0 = 70, x1 = W - 12;
  const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + height, width: '100%', 'data-end': end, 'data-x0': x0, 'data-x1': x1 });
  const x = (t) => x0 + (end > 0 ? (t / end) * (x1 - x0) : 0);
  return { s, x, x0, x1, W };
}

function addMarker(s, y0, y1) {
  s.append(svg('line', { class: 'marker', x1: 0, x2: 0, y1: y0, y2: y1, visibility: 'hidden' }));
}

function renderStates(data) {
  const box = $('states');
  if (data.states.length === 0) {
    box.replaceChildren(el('p', { class: 'hint', text: 'No TCP connection in this scenario.' }));
    return;
  }
  const end = Math.max(data.end_ns, 1);
  const { s, x, x1 } = timeSvg(96, end);
  const lanes = [['a', data.parties[0].name], ['b', data.parties[1].name]];
  lanes.forEach(([side, name], i) => {
    const y = 8 + i * 36;
    s.append(svg('text', { x: 4, y: y + 17 }, name.split(' ')[0]));
    const changes = data.states.filter((c) => c.side === side);
    let state = changes.length ? changes[0].from : 'CLOSED';
    let t = 0;
    const bands = [];
    for (const c of changes) { bands.push([t, c.t_ns, state]); state = c.to; t = c.t_ns; }
    bands.push([t, end, state]);
    for (const [from, to, st] of bands) {
      const g = svg('g', { class: 'state-band' });
      const w = Math.max(x(to) - x(from), 1);
      g.append(svg('rect', { x: x(from), y, width: w, height: 26, fill: STATE_COLOURS[st] || '#dee2e6', stroke: 'white' }));
      g.append(svg('title', {}, name + ': ' + st + ' from ' + fmtTime(from) + ' to ' + fmtTime(to)));
      if (w > st.length * 6.2 + 4) g.append(svg('text', { x: x(from) + 3, y: y + 17 }, st));
      s.append(g);
    }
  });
  timeAxis(s, x, 4, 80, end);
  s.append(svg('line', { class: 'axis', x1: x(0), x2: x1, y1: 80, y2: 80 }));
  addMarker(s, 4, 80);
  box.replaceChildren(s);
}

function linePlot(series, end, yFmt, title) {
  const H = 170, y0 = 14, y1 = H - 22;
  const { s, x, x0, x1 } = timeSvg(H, end);
  let max = 0;
  for (const se of series) for (const p of se.points) max = Math.max(max, p[1]);
  max = max > 0 ? max * 1.08 : 1;
  const y = (v) => y1 - (v / max) * (y1 - y0);
  for (const v of niceTicks(max, 4)) {
    s.append(svg('line', { class: 'grid', x1: x0, x2: x1, y1: y(v), y2: y(v) }));
    s.append(svg('text', { x: x0 - 4, y: y(v) + 4, 'text-anchor': 'end' }, yFmt(v)));
  }
  timeAxis(s, x, y0, y1, end);
  s.append(svg('line', { class: 'axis', x1: x0, x2: x1, y1, y2: y1 }));
  s.append(svg('line', { class: 'axis', x1: x0, x2: x0, y1: y0, y2: y1 }));
  s.append(svg('text', { x: x0 + 4, y: 10 }, title));
  for (const se of series) {
    if (se.points.length === 0) continue;
    const pts = se.points.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' ');
    const line = svg('polyline', { class: se.cls, points: pts });
    line.append(svg('title', {}, se.name));
    s.append(line);
  }
  addMarker(s, y0, y1);
  return s;
}

function legend(items) {
  return el('div', { class: 'legend' }, ...items.map(([cls, name, colour]) =>
    el('span', {}, el('i', { style: 'background:' + colour }), name)));
}

function renderPlots(data) {
  const box = $('plots');
  if (data.samples.length === 0) {
    box.replaceChildren(el('p', { class: 'hint', text: 'No TCP connection in this scenario.' }));
    return;
  }
  const end = Math.max(data.end_ns, 1);
  const pick = (f) => data.samples.filter((p) => p[f] !== null && p[f] !== undefined).map((p) => [p.t_ns, p[f]]);
  const cwnd = linePlot([
    { cls: 'flight', name: 'bytes in flight', points: pick('flight') },
    { cls: 'ssthresh', name: 'ssthresh', points: pick('ssthresh') },
    { cls: 'cwnd', name: 'cwnd', points: pick('cwnd') },
  ], end, fmtBytes, 'congestion window (bytes)');
  const rtt = linePlot([
    { cls: 'rto', name: 'RTO', points: pick('rto_ms') },
    { cls: 'srtt', name: 'smoothed RTT', points: pick('srtt_ms') },
  ], end, (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + ' ms', 'smoothed RTT and RTO (ms)');
  cwnd.id = 'cwnd-plot';
  rtt.id = 'rtt-plot';
  box.replaceChildren(
    legend([['cwnd', 'cwnd', '#1c7ed6'], ['ssthresh', 'ssthresh', '#e8590c'], ['flight', 'in flight', '#94d82d']]),
    cwnd,
    legend([['srtt', 'smoothed RTT', '#7048e8'], ['rto', 'RTO (RFC 6298)', '#f03e3e']]),
    rtt);
}

function renderTopology(data) {
  const { nodes, links } = data.topology;
  const W = 640, H = 150;
  const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%', id: 'topology-svg' });
  // A chain (A — switch — B) is drawn in a row in its own order; any
  // other shape on an ellipse.
  const adj = new Map(nodes.map((n) => [n.id, new Set()]));
  for (const l of links) {
    if (adj.has(l.from) && adj.has(l.to) && l.from !== l.to) { adj.get(l.from).add(l.to); adj.get(l.to).add(l.from); }
  }
  let order = null;
  const ends = nodes.filter((n) => adj.get(n.id).size === 1);
  if (nodes.length <= 5 && nodes.every((n) => adj.get(n.id).size <= 2) && ends.length === 2) {
    order = [ends[0].id];
    while (order.length < nodes.length) {
      const next = [...adj.get(order[order.length - 1])].find((x) => !order.includes(x));
      if (next === undefined) break;
      order.push(next);
    }
    if (order.length !== nodes.length) order = null;
  }
  const pos = new Map();
  if (order) {
    order.forEach((id, i) => pos.set(id, [70 + (order.length === 1 ? 0 : i * (W - 140) / (order.length - 1)), H / 2]));
  } else {
    nodes.forEach((n, i) => {
      const a = (2 * Math.PI * i) / nodes.length - Math.PI / 2;
      pos.set(n.id, [W / 2 + Math.cos(a) * (W / 2 - 80), H / 2 + Math.sin(a) * (H / 2 - 28)]);
    });
  }
  // A cable is two one-way links: one line, a label for each direction.
  const drawn = new Set();
  for (const l of links) {
    const key = Math.min(l.from, l.to) + '-' + Math.max(l.from, l.to);
    const [ax, ay] = pos.get(l.from) || [0, 0];
    const [bx, by] = pos.get(l.to) || [0, 0];
    if (!drawn.has(key)) {
      drawn.add(key);
      s.append(svg('line', { class: 'link', x1: ax, y1: ay, x2: bx, y2: by }));
    }
    const forward = ax < bx || (ax === bx && ay < by);
    const mx = (ax + bx) / 2, my = (ay + by) / 2 + (forward ? -10 : 20);
    const t = svg('text', { class: 'link-label', x: mx, y: my, 'text-anchor': 'middle' },
      (forward ? '→ ' : '← ') + l.stats.frames_sent + ' sent, ' + l.stats.frames_delivered + ' delivered');
    if (l.stats.dropped > 0) t.append(svg('tspan', { class: 'drops' }, ', ' + l.stats.dropped + ' dropped'));
    s.append(t);
  }
  for (const n of nodes) {
    const [px, py] = pos.get(n.id);
    const g = svg('g', { class: 'node' });
    g.append(svg('circle', { cx: px, cy: py, r: 24 }));
    g.append(svg('text', { x: px, y: py + 4, 'text-anchor': 'middle' }, n.name.length > 7 ? n.name.slice(0, 6) + '…' : n.name));
    g.append(svg('title', {}, n.name));
    s.append(g);
  }
  const name = (id) => (nodes.find((n) => n.id === id) || { name: '?' }).name;
  const head = ['link', 'from → to', 'sent', 'delivered', 'dropped', 'loss', 'burst', 'queue', 'dup', 'reord', 'corrupt', 'bytes', 'max queue'];
  const table = el('table', { class: 'links' },
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { text: h })))));
  const body = el('tbody');
  for (const l of links) {
    const st = l.stats;
    const cells = ['link' + l.id, name(l.from) + '[' + l.from_port + '] → ' + name(l.to) + '[' + l.to_port + ']',
      st.frames_sent, st.frames_delivered, st.dropped, st.dropped_loss, st.dropped_burst, st.dropped_queue,
      st.duplicated, st.reordered, st.corrupted, fmtBytes(l.bytes_sent), l.max_queue_frames];
    body.append(el('tr', {}, ...cells.map((c, i) =>
      el('td', { class: i === 4 && st.dropped > 0 ? 'bad' : '', text: String(c) }))));
  }
  table.append(body);
  const first = links[0];
  const cfg = first ? el('p', { class: 'hint', text: 'each link: ' + fmtRate(first.rate_bps) + ', ' +
    first.latency_ms + ' ms one way, loss ' + (first.loss * 100).toFixed(1) + '%' }) : '';
  $('topology').replaceChildren(s, table, cfg);
}

function renderReport(data) {
  $('report').textContent = data.report.join('\n');
  const dl = $('downloads');
  const q = data.query;
  const links = [['api/pcap?' + q, 'capture (pcap)'], ['api/svg?' + q + '&kind=ladder', 'ladder (SVG)'],
    ['api/run?' + q, 'run (JSON)']];
  if (data.samples.length > 0) {
    links.push(['api/svg?' + q + '&kind=tseq', 'time-sequence graph (SVG)'], ['api/svg?' + q + '&kind=cwnd', 'cwnd/RTT (SVG)']);
  }
  dl.replaceChildren(...links.map(([href, text]) => el('a', { href, text })),
    el('br'), 'the same run in a terminal: ', el('code', { text: data.command }));
}

// ---------------------------------------------------------------------------
// Wiring

function frameRows() { return Array.from(app.rowByN.keys()).sort((a, b) => a - b); }

function init() {
  const f = $('options');
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const qs = formToQuery();
    history.pushState(null, '', '?' + qs);
    run(qs);
  });
  f.elements.scenario.addEventListener('change', adaptForm);
  $('new-seed').addEventListener('click', () => {
    f.elements.seed.value = String(1 + Math.floor(Math.random() * 1e6));
    f.requestSubmit();
  });
  $('ladder').addEventListener('click', (e) => {
    const row = e.target.closest('.row.frame');
    if (row) select(Number(row.dataset.n), false);
  });
  $('ladder').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    const ns = frameRows();
    if (ns.length === 0) return;
    const cur = app.selected ? Number(app.selected.dataset.n) : 0;
    const i = ns.indexOf(cur);
    const next = e.key === 'ArrowDown' ? ns[Math.min(i + 1, ns.length - 1)] : ns[Math.max(i - 1, 0)];
    select(next, true);
  });
  window.addEventListener('popstate', () => {
    const qs = location.search.replace(/^\?/, '');
    if (qs !== app.query) { queryToForm(qs); run(qs); } else {
      const n = frameFromHash();
      if (n !== null) select(n, true);
    }
  });
  window.addEventListener('hashchange', () => {
    const n = frameFromHash();
    if (n !== null && app.selected && Number(app.selected.dataset.n) !== n) select(n, true);
  });
  const qs = location.search.replace(/^\?/, '');
  queryToForm(qs);
  run(qs);
}

init();
