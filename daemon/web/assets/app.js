// The operator screen. Renders what espfab-web sends on /events (see
// whttp.h): the server owns the picture, this file only draws it. Every
// string from the server goes in with textContent, never as HTML.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const tilesEl = $('tiles');
  const tiles = new Map(); // port name -> {el, parts}
  let state = null;        // the last "state"
  let lastMsg = Date.now();
  let keepaliveMs = 10000;
  let es = null;
  let linkUp = false;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- layout: the grid that makes the slot count fit the screen ----
  function layout() {
    const n = Math.max(tiles.size, 1);
    const w = tilesEl.clientWidth - 16, h = tilesEl.clientHeight - 16, gap = 8;
    let best = { score: -1, cols: 1, rows: 1 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const tw = (w - gap * (cols - 1)) / cols, th = (h - gap * (rows - 1)) / rows;
      // Tiles a little wider than tall read best; never taller than needed.
      const score = Math.min(tw, th * 1.25);
      if (score > best.score) best = { score, cols, rows, tw, th };
    }
    tilesEl.style.gridTemplateColumns = `repeat(${best.cols}, 1fr)`;
    tilesEl.style.gridAutoRows = `${Math.floor(Math.min(best.th, best.tw))}px`;
    tilesEl.style.setProperty('--tile-w', `${Math.floor(Math.min(best.tw, best.th * 1.4))}px`);
  }
  window.addEventListener('resize', layout);

  // ---- tiles ----
  function makeTile(name) {
    const root = el('div', 'tile tone-off');
    root.dataset.port = name;
    const head = el('div', 't-head');
    const p = {
      name: el('span', 't-name', name),
      counts: el('span', 't-counts'),
      label: el('div', 't-label'),
      bar: el('div', 't-bar'),
      fill: el('div', 't-fill'),
      pct: el('span', 't-pct'),
      id: el('div', 't-id'),
      mac: el('div', 't-mac'),
      rec: el('div', 't-rec'),
      hint: el('div', 't-hint'),
      fail: el('div', 't-fail'),
      reason: el('span', 't-reason'),
      action: el('div', 't-action'),
      error: el('div', 't-error'),
    };
    head.append(p.name, p.counts);
    p.bar.append(p.fill, p.pct);
    p.id.append(p.mac, p.rec);
    p.fail.append(p.reason, p.action, p.error);
    root.append(head, p.label, p.bar, p.id, p.hint, p.fail);
    tilesEl.append(root);
    const t = { el: root, p };
    tiles.set(name, t);
    return t;
  }

  function drawTile(d) {
    const t = tiles.get(d.name) || makeTile(d.name);
    const p = t.p;
    t.el.className = `tile tone-${d.tone}`;
    t.el.dataset.state = d.state;
    t.el.dataset.label = d.label;
    p.label.textContent = d.label;
    p.counts.textContent = `\u2713${d.ok}  \u2717${d.failed}`;
    const pct = d.total > 0 ? Math.min(100, Math.floor(d.done * 100 / d.total)) : 0;
    const showBar = d.state === 'busy' && d.total > 0;
    p.bar.classList.toggle('on', showBar);
    p.fill.style.width = `${pct}%`;
    p.pct.textContent = showBar ? `${pct}%` : '';
    const last = d.last || null;
    // While busy: this board; afterwards: the board of the last result.
    const mac = d.mac || (last && last.mac) || '';
    const rec = d.state === 'busy' ? d.record : (last && last.record) || '';
    p.mac.textContent = mac || '\u00a0';
    p.rec.textContent = rec ? `record ${rec}` : '\u00a0';
    p.hint.textContent = d.hint;
    const failed = last && last.result !== 'verified';
    p.fail.hidden = !failed;
    // A failed board's advice replaces the generic hint.
    p.hint.hidden = failed && d.state !== 'busy';
    if (failed) {
      p.reason.textContent = `Last: ${last.reason || 'failed'}`;
      p.action.textContent = last.action || '';
      p.error.textContent = last.error || '';
      p.error.title = last.error || '';
    }
  }

  // ---- side panel ----
  function drawBatches(list) {
    const box = $('batch-list');
    box.replaceChildren();
    if (!list || !list.length) {
      box.append(el('p', 'empty', 'No batch'));
      return;
    }
    const unlocked = !!sessionStorage.getItem('espfab-token');
    for (const b of list) {
      const row = el('div', 'batch');
      row.dataset.batch = b.id;
      row.dataset.state = b.state || '';
      const line = el('div', 'b-line');
      line.append(el('span', '', `#${b.id} ${b.product || ''}`), el('span', 'b-state', (b.state || '').toUpperCase()));
      const bar = el('div', 'b-bar'), fill = el('div', 'b-fill');
      const count = b.count || 0, ver = b.verified || 0;
      fill.style.width = `${count ? Math.min(100, ver * 100 / count) : 0}%`;
      bar.append(fill);
      const nums = el('div', 'b-nums',
        `${ver}/${count} verified \u00b7 ${b.failed || 0} failed` +
        (b.remaining !== undefined ? ` \u00b7 ${b.remaining} to go` : ''));
      row.append(line, bar, nums);
      if (unlocked && state && state.operator && state.online && (b.state === 'active' || b.state === 'paused')) {
        const act = b.state === 'active' ? 'pause' : 'resume';
        const btn = el('button', 'b-act', act === 'pause' ? 'Pause' : 'Resume');
        btn.type = 'button';
        btn.dataset.action = act;
        btn.addEventListener('click', () => operatorAction(b.id, act));
        row.append(btn);
      }
      box.append(row);
    }
  }

  function drawStats(s) {
    if (!s) return;
    const r = $('rates');
    r.replaceChildren();
    const big = el('div', '');
    big.append(el('b', '', String(s.per_hour)), document.createTextNode(' devices/hour'));
    r.append(big, el('div', '', `last ${Math.round(s.rate_window_s / 60)} min; ` +
      `past hour: ${s.verified_1h} verified, ${s.failed_1h} failed`));
    const c = $('causes');
    c.replaceChildren();
    for (const x of s.causes || []) c.append(el('li', '', `${x.count} \u00d7 ${x.label}`));
    $('totals').textContent = `verified ${s.verified} \u00b7 failed ${s.failed} since the daemon started`;
  }

  function auditItem(a) {
    const ok = a.result === 'ok' || a.result === 'verified';
    const li = el('li', ok ? 'r-ok' : 'r-fail');
    const t = (a.time || '').slice(11, 19);
    li.textContent = `${t} ${a.port || '-'} ${a.mac || ''} ${a.record || '-'} ${ok ? 'OK' : (a.result || '').toUpperCase()}` +
      (!ok && a.reason ? ` \u2014 ${a.reason}` : '');
    li.title = a.error || '';
    return li;
  }

  function drawAudit(rows) {
    const ol = $('audit-list');
    ol.replaceChildren();
    for (let i = rows.length - 1; i >= 0; i--) ol.append(auditItem(rows[i]));
  }

  function addAudit(a) {
    const ol = $('audit-list');
    ol.prepend(auditItem(a));
    while (ol.children.length > 20) ol.lastChild.remove();
  }

  // ---- connection state ----
  function showConn() {
    const conn = $('conn'), off = $('offline');
    const online = linkUp && state && state.online;
    document.body.classList.toggle('dim', !online);
    if (!linkUp) {
      conn.className = 'conn conn-off';
      conn.textContent = 'SCREEN LINK LOST';
      off.hidden = false;
      $('offline-title').textContent = 'STATION OFFLINE';
      $('offline-why').textContent = 'this screen cannot reach espfab-web';
    } else if (!state.online) {
      conn.className = 'conn conn-off';
      conn.textContent = 'OFFLINE';
      off.hidden = false;
      $('offline-title').textContent = 'STATION OFFLINE';
      $('offline-why').textContent = state.why || '';
    } else {
      conn.className = 'conn conn-live';
      conn.textContent = 'LIVE';
      off.hidden = true;
    }
    document.body.dataset.online = online ? '1' : '0';
  }

  function onState(s) {
    state = s;
    keepaliveMs = s.keepalive_ms || keepaliveMs;
    $('station').textContent = s.station ? `Station ${s.station}` : 'espfab station';
    tilesEl.replaceChildren();
    tiles.clear();
    for (const t of s.tiles || []) drawTile(t);
    layout();
    drawBatches(s.batches);
    drawStats(s.stats);
    drawAudit(s.audit || []);
    $('op-open').hidden = !s.operator || !!sessionStorage.getItem('espfab-token');
    $('op-lock').hidden = !s.operator || !sessionStorage.getItem('espfab-token');
    showConn();
  }

  function on(type, fn) {
    es.addEventListener(type, (ev) => {
      lastMsg = Date.now();
      if (!linkUp) { linkUp = true; if (state) showConn(); }
      let d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      fn(d);
    });
  }

  function connect() {
    if (es) es.close();
    es = new EventSource('/events');
    on('state', onState);
    on('tile', (d) => { const had = tiles.has(d.name); drawTile(d); if (!had) layout(); });
    on('batches', (d) => { if (state) state.batches = d.batches; drawBatches(d.batches); });
    on('stats', drawStats);
    on('audit', addAudit);
    on('ping', () => {});
    es.onerror = () => {
      linkUp = false;
      if (state) showConn();
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    };
  }

  // A stream that went quiet (no ping for three periods) is a lost link,
  // even when the socket has not noticed yet.
  setInterval(() => {
    if (Date.now() - lastMsg > 3 * keepaliveMs + 2000) {
      linkUp = false;
      showConn();
      lastMsg = Date.now();
      connect();
    }
  }, 1000);

  // ---- operator ----
  function opMsg(text) { $('op-msg').textContent = text; }

  async function operatorAction(id, act) {
    const tok = sessionStorage.getItem('espfab-token');
    if (!tok) return;
    opMsg(`${act} batch ${id}\u2026`);
    try {
      const r = await fetch(`/api/batch/${encodeURIComponent(id)}/${act}`,
        { method: 'POST', headers: { Authorization: `Bearer ${tok}` } });
      const body = await r.json().catch(() => ({}));
      if (r.ok) {
        opMsg(`batch ${id}: ${act === 'pause' ? 'paused' : 'resumed'}`);
      } else {
        opMsg(`refused (${r.status}): ${(body.error && body.error.message) || r.statusText}`);
        if (r.status === 401) lock();
      }
    } catch (e) {
      opMsg('no answer from espfab-web');
    }
  }

  function lock() {
    sessionStorage.removeItem('espfab-token');
    $('op-form').hidden = true;
    $('op-lock').hidden = true;
    $('op-open').hidden = !(state && state.operator);
    if (state) drawBatches(state.batches);
  }

  $('op-open').addEventListener('click', () => {
    $('op-open').hidden = true;
    $('op-form').hidden = false;
    $('op-token').focus();
  });
  $('op-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const tok = $('op-token').value.trim();
    $('op-token').value = '';
    if (!tok) return;
    sessionStorage.setItem('espfab-token', tok);
    $('op-form').hidden = true;
    $('op-lock').hidden = false;
    opMsg('operator unlocked');
    if (state) drawBatches(state.batches);
  });
  $('op-lock').addEventListener('click', () => { lock(); opMsg('locked'); });

  connect();
})();
