/* lrplot explore: the form, the page state in the URL, requests to the local server, pins.
 * Every curve comes from the server (the real scheduler); this file only shows it. */
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const boot = JSON.parse($('lrplot-explore').textContent);
  const FORM = boot.form;
  const byName = new Map();
  for (const s of FORM.schedulers) {
    for (const key of [s.name, s.cls, ...s.aliases]) byName.set(key.toLowerCase(), s);
    byName.set(s.name, s);
  }
  const fields = new Map(); // name -> {d, wrap, input, err}
  let sched = null;
  let current = null; // {query, header, ys}
  let pins = []; // {query, label, header, ys}
  let ctl = null;
  let seq = 0;
  let timer = 0;
  const timings = { last: null, runs: 0, answers: 0 }; // runs: curves drawn; answers: + errors

  // ------------------------------------------------------------------ small helpers
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const fmtInt = (k) => Math.round(k).toLocaleString('en-US');
  function status(text, cls) {
    const s = $('ex-status');
    s.textContent = text;
    s.className = cls || '';
  }
  const shellQuote = (w) => (/^[\w.,:=@/+-]+$/.test(w) ? w : "'" + w.replace(/'/g, "'\\''") + "'");

  // ------------------------------------------------------------------ the form
  function fieldFor(d) {
    const wrap = el('div', 'ex-field');
    wrap.dataset.name = d.name;
    wrap.dataset.group = d.group;
    const id = 'f-' + d.name;
    const label = el('label', null, d.flag);
    label.htmlFor = id;
    if (d.required) label.appendChild(el('span', 'ex-req', ' required'));
    wrap.appendChild(label);
    let input;
    const bool = d.kind === 'bool' && (d.default === 'true' || d.default === 'false');
    if (bool) {
      input = el('input');
      input.type = 'checkbox';
      input.checked = d.default === 'true';
      label.classList.add('ex-inline');
      label.prepend(input);
      wrap.classList.add('ex-bool');
    } else if ((d.choices && d.choices.length) || d.kind === 'bool') {
      const choices = d.choices && d.choices.length ? d.choices : ['true', 'false'];
      input = el('select');
      if (d.default === null || d.default === undefined) input.appendChild(new Option('auto', ''));
      for (const c of choices) input.appendChild(new Option(c + (c === d.default ? ' (default)' : ''), c));
      input.value = d.default || '';
      wrap.appendChild(input);
    } else if (d.lines) {
      input = el('textarea');
      input.rows = 2;
      input.placeholder = d.kind === 'specs' ? 'one SPEC per line, e.g. cosine:T_max=95' : 'one expression of epoch per param group';
      wrap.appendChild(input);
    } else {
      input = el('input');
      input.type = 'text';
      input.spellcheck = false;
      if (['int', 'float', 'floats', 'ints', 'lr'].includes(d.kind)) input.inputMode = 'decimal';
      input.placeholder = d.default !== null && d.default !== undefined ? d.default : d.required ? 'required' : 'auto';
      wrap.appendChild(input);
    }
    input.id = id;
    input.name = d.name;
    const help = [d.help, d.type && d.type !== d.kind ? d.type : ''].filter(Boolean).join(' · ');
    if (help) {
      const h = el('div', 'ex-help', help);
      h.title = help;
      wrap.appendChild(h);
    }
    const err = el('div', 'ex-err');
    err.setAttribute('role', 'alert');
    wrap.appendChild(err);
    const f = { d, wrap, input, err, bool };
    const immediate = () => schedule(0);
    if (input.tagName === 'SELECT' || bool) input.addEventListener('change', immediate);
    else {
      input.addEventListener('input', () => schedule(350));
      input.addEventListener('change', immediate);
      input.addEventListener('keydown', (e) => { if (e.key === 'Enter' && input.tagName === 'INPUT') { e.preventDefault(); immediate(); } });
    }
    return f;
  }

  function readField(f) {
    const { d, input } = f;
    if (f.bool) {
      const v = input.checked ? 'true' : 'false';
      return v === d.default ? [] : [v];
    }
    if (input.tagName === 'TEXTAREA') return input.value.split('\n').map((s) => s.trim()).filter(Boolean);
    const v = input.value.trim();
    return v === '' || v === d.default ? [] : [v];
  }

  function writeField(f, values) {
    const { d, input } = f;
    if (f.bool) input.checked = (values.length ? values[values.length - 1] : d.default) === 'true';
    else if (input.tagName === 'TEXTAREA') input.value = values.join('\n');
    else if (input.tagName === 'SELECT') {
      const v = values.length ? values[values.length - 1] : d.default || '';
      if (v && ![...input.options].some((o) => o.value === v)) input.appendChild(new Option(v, v));
      input.value = v;
    } else input.value = values.length ? values[values.length - 1] : '';
  }

  function buildScheduler(s) {
    sched = s;
    $('ex-scheduler').value = s.name;
    $('ex-summary').textContent = s.summary + ' (' + s.cls + ')';
    for (const [name, f] of [...fields]) if (f.d.group === 'kwargs') { f.wrap.remove(); fields.delete(name); }
    const box = $('ex-kwargs');
    for (const d of s.kwargs) {
      const f = fieldFor(d);
      fields.set(d.name, f);
      box.appendChild(f.wrap);
    }
    box.hidden = !s.kwargs.length;
    for (const f of fields.values()) {
      if (f.d.name === 'metric') f.wrap.hidden = !s.metric;
    }
  }

  function buildForm() {
    const sel = $('ex-scheduler');
    for (const s of FORM.schedulers) sel.appendChild(new Option(s.name + ' · ' + s.cls, s.name));
    sel.addEventListener('change', () => {
      buildScheduler(byName.get(sel.value));
      schedule(0);
    });
    for (const [group, list] of [['ex-run', FORM.run], ['ex-display', FORM.display]]) {
      for (const d of list) {
        if (fields.has(d.name)) continue; // a plug-in kwarg of that name wins, as on the command line
        const f = fieldFor(d);
        fields.set(d.name, f);
        $(group).appendChild(f.wrap);
      }
    }
  }

  function readState() {
    const q = new URLSearchParams();
    q.append('scheduler', sched.name);
    for (const f of fields.values()) {
      if (f.wrap.hidden) continue;
      for (const v of readField(f)) q.append(f.d.name, v);
    }
    return q;
  }

  function applyState(q) {
    const name = q.get('scheduler') || '';
    const s = byName.get(name) || byName.get(name.toLowerCase());
    buildScheduler(s || FORM.schedulers[0]);
    if (!s && name) showError({ key: 'scheduler', message: "unknown scheduler '" + name + "'" });
    for (const f of fields.values()) writeField(f, q.getAll(f.d.name));
  }

  // ------------------------------------------------------------------ requests
  // The answer is a stream of frames: type byte, uint32 length, body. P: progress (JSON),
  // E: error (JSON), C: superseded, D: uint32 header length, JSON header, padding to 8,
  // then one float64 array per curve.
  async function fetchState(qs, signal, onProgress) {
    const res = await fetch('/api/run?' + qs, { signal, cache: 'no-store' });
    if (!res.ok) throw new Error('the server answered ' + res.status + ': ' + (await res.text()));
    const reader = res.body.getReader();
    const head = new Uint8Array(5);
    let headFill = 0;
    let body = null;
    let bodyFill = 0;
    let result = null;
    const finish = () => {
      const type = String.fromCharCode(head[0]);
      if (type === 'P') { if (onProgress) onProgress(JSON.parse(new TextDecoder().decode(body))); }
      else if (type === 'E') result = { type, error: JSON.parse(new TextDecoder().decode(body)) };
      else if (type === 'C') result = { type };
      else if (type === 'D') {
        const hlen = new DataView(body.buffer).getUint32(0, true);
        const header = JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + hlen)));
        let off = (4 + hlen + 7) & ~7;
        const ys = header.curves.map((c) => { const y = new Float64Array(body.buffer, off, c.n); off += 8 * c.n; return y; });
        result = { type, header, ys };
      }
      body = null;
      headFill = 0;
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let off = 0;
      while (off < value.length) {
        if (body === null) {
          const take = Math.min(5 - headFill, value.length - off);
          head.set(value.subarray(off, off + take), headFill);
          headFill += take;
          off += take;
          if (headFill === 5) {
            body = new Uint8Array(new DataView(head.buffer).getUint32(1, true));
            bodyFill = 0;
            if (body.length === 0) finish();
          }
        } else {
          const take = Math.min(body.length - bodyFill, value.length - off);
          body.set(value.subarray(off, off + take), bodyFill);
          bodyFill += take;
          off += take;
          if (bodyFill === body.length) finish();
        }
      }
    }
    return result;
  }

  function pageQuery(qs) {
    const q = new URLSearchParams(qs);
    for (const p of pins) q.append('pin', p.query);
    return q.toString();
  }

  function schedule(delay) {
    clearTimeout(timer);
    if (delay) timer = setTimeout(() => run(), delay);
    else run();
  }

  async function run() {
    const t0 = performance.now();
    const qs = readState().toString();
    history.replaceState(null, '', '?' + pageQuery(qs));
    const my = ++seq;
    if (ctl) ctl.abort();
    ctl = new AbortController();
    status('computing…', 'busy');
    let answer;
    try {
      answer = await fetchState(qs, ctl.signal, (p) => {
        if (my === seq) status('simulating ' + fmtInt(p.done) + ' of ' + fmtInt(p.total) + ' steps (' + Math.floor((100 * p.done) / p.total) + '%)…', 'busy');
      });
    } catch (e) {
      if (e.name !== 'AbortError' && my === seq) status(e.message, 'bad');
      return;
    }
    if (my !== seq || !answer || answer.type === 'C') return;
    timings.answers++;
    if (answer.type === 'E') {
      showError(answer.error);
      status(current ? 'showing the last valid curve' : '', 'bad');
      $('ex-view').classList.add('stale');
      return;
    }
    clearErrors();
    current = { query: qs, header: answer.header, ys: answer.ys };
    const t1 = performance.now();
    await show();
    const t2 = performance.now();
    const h = answer.header;
    timings.runs++;
    timings.last = { seq: my, total: t2 - t0, fetch: t1 - t0, draw: t2 - t1, server: h.server_ms, steps: h.resolved.steps, cached: h.cached };
    status(fmtInt(h.resolved.steps) + ' steps · ' + Math.round(t2 - t0) + ' ms (server ' + Math.round(h.server_ms) + ' ms' + (h.cached ? ', cached' : '') + ', draw ' + Math.round(t2 - t1) + ' ms)');
    updateAuto(h.resolved);
  }

  function updateAuto(r) {
    const ep = fields.get('epochs');
    if (ep && !ep.input.value) ep.input.placeholder = 'auto: ' + r.epochs;
    const sp = fields.get('step_per');
    if (sp && sp.input.tagName === 'SELECT' && sp.input.options[0].value === '') sp.input.options[0].text = 'auto: ' + r.step_per;
  }

  async function show() {
    if (!current) return;
    const h = current.header;
    const curves = h.curves.map((c, i) => ({ name: c.name, kind: c.kind, show: c.show, codec: 'f64', y: current.ys[i] }));
    pins.forEach((p, k) => {
      p.header.curves.forEach((c, i) => {
        if (c.kind !== 'lr') return;
        const suffix = c.name === 'lr' ? '' : ' ' + c.name;
        curves.push({ name: 'pin ' + (k + 1) + ': ' + p.label + suffix, kind: 'lr', codec: 'f64', y: p.ys[i] });
      });
    });
    await lrplot.load({ title: h.title, command: h.command, spe: h.spe, x: h.x, log: h.log, curves, events: h.events, notes: h.notes });
    $('ex-view').classList.remove('stale');
    renderPins();
  }

  // ------------------------------------------------------------------ errors
  function clearErrors() {
    for (const f of fields.values()) { f.err.textContent = ''; f.wrap.classList.remove('bad'); }
    const s = document.querySelector('.ex-field[data-name="scheduler"]');
    s.classList.remove('bad');
    s.querySelector('.ex-err').textContent = '';
    $('ex-error').textContent = '';
  }
  function showError(e) {
    clearErrors();
    const text = e.message + (e.hint ? ' (' + e.hint + ')' : '');
    const key = e.key === 'max_steps' ? 'epochs' : e.key;
    const f = fields.get(key);
    const wrap = f && !f.wrap.hidden ? f.wrap : key === 'scheduler' ? document.querySelector('.ex-field[data-name="scheduler"]') : null;
    if (wrap) {
      wrap.classList.add('bad');
      wrap.querySelector('.ex-err').textContent = text;
    } else {
      $('ex-error').textContent = text;
    }
  }

  // ------------------------------------------------------------------ pins and copies
  function renderPins() {
    const ul = $('ex-pins');
    ul.textContent = '';
    pins.forEach((p, k) => {
      const li = el('li');
      li.appendChild(el('span', 'ex-pin-name', 'pin ' + (k + 1) + ': ' + p.label));
      const rm = el('button', 'ex-unpin', '×');
      rm.type = 'button';
      rm.title = 'Remove this pin';
      rm.setAttribute('aria-label', 'Remove pin ' + (k + 1));
      rm.onclick = () => {
        pins.splice(k, 1);
        history.replaceState(null, '', '?' + pageQuery(current ? current.query : readState().toString()));
        show();
      };
      li.appendChild(rm);
      ul.appendChild(li);
    });
    $('ex-compare').hidden = !pins.length;
  }

  function compareCommand() {
    const words = ['lrplot', 'compare', current.header.label, ...pins.map((p) => p.label)];
    return words.map(shellQuote).join(' ');
  }

  function wireActions() {
    for (const b of document.querySelectorAll('#ex-actions [data-copy]')) {
      b.onclick = () => { if (current) lrplot.copyButton(b, () => current.header.copy[b.dataset.copy]); };
    }
    const cmp = el('button', null, 'Compare');
    cmp.type = 'button';
    cmp.id = 'ex-compare';
    cmp.title = 'Copy the lrplot compare command of this curve and the pins';
    cmp.hidden = true;
    cmp.onclick = () => { if (current) lrplot.copyButton(cmp, compareCommand); };
    $('ex-pin').after(cmp);
    $('ex-pin').onclick = () => {
      if (!current || pins.some((p) => p.query === current.query)) return;
      pins.push({ query: current.query, label: current.header.label, header: current.header, ys: current.ys });
      history.replaceState(null, '', '?' + pageQuery(current.query));
      show();
    };
  }

  async function start() {
    buildForm();
    wireActions();
    const params = new URLSearchParams(location.search);
    const pinQueries = params.getAll('pin');
    params.delete('pin');
    const state = [...params.keys()].length ? params : new URLSearchParams(boot.initial);
    applyState(state);
    for (const pq of pinQueries) {
      const a = await fetchState(pq, undefined, null);
      if (a && a.type === 'D') pins.push({ query: pq, label: a.header.label, header: a.header, ys: a.ys });
    }
    await run();
    document.body.dataset.ready = '1';
  }

  window.explore = {
    timings,
    get current() { return current; },
    get pins() { return pins; },
    readState: () => readState().toString(),
    run,
  };
  start().catch((e) => {
    status('Error: ' + e.message, 'bad');
    console.error(e);
    document.body.dataset.ready = 'error';
  });
})();
