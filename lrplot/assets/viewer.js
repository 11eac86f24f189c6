/* lrplot viewer: exact float64 curves, decimated (M4) per device pixel on every view change,
 * drawn with uPlot. Used by `lrplot ... -o x.html` (payload embedded in the page) and by
 * `lrplot explore` (payloads from the local server, via window.lrplot.load).
 *
 * Row i of every curve is the value optimizer step i uses; step i owns x in [i, i+1), so the
 * whole run is the x range [0, N]. Hover reads the exact arrays, never the decimated points. */
(function () {
  'use strict';
  const T0 = performance.now();
  const $ = (id) => document.getElementById(id);
  const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
    '#17becf', '#7f7f7f', '#bcbd22'];
  const KIND_SCALE = { lr: 'y', momentum: 'mom', metric: 'metric' };
  const KIND_LABEL = { lr: 'learning rate', momentum: 'momentum', metric: 'metric' };
  const NARROW = '(max-width: 700px)'; // keep in sync with viewer.css

  let P = null; // the payload shown
  let N = 0; // steps of the longest curve
  const curves = []; // {name, kind, y, color, show, scale, dot, partial}
  let events = []; // [{step, label, kind}] sorted by step
  let u = null;
  let logY = false;
  let xEpoch = false;
  let view = { a: 0, b: 0 };
  let lastIdx = null;
  let hoverStep = null;
  const timings = { decode: 0, load: 0, draw: 0, ready: 0, redraws: [] };

  // ------------------------------------------------------------------ decoding
  function b64bytes(s) {
    if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(s);
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  // independently deflated parts (base64) -> exactly `size` bytes, read into one buffer
  async function inflate(parts, size) {
    if (typeof DecompressionStream !== 'function') {
      throw new Error('this browser cannot read the data (it needs DecompressionStream: ' +
        'Chrome 80+, Firefox 113+, Safari 16.4+)');
    }
    const out = new Uint8Array(size);
    let o = 0;
    for (const part of parts) {
      const ds = new DecompressionStream('deflate');
      const w = ds.writable.getWriter();
      w.write(b64bytes(part));
      w.close();
      const rd = ds.readable.getReader();
      for (;;) {
        const { value, done } = await rd.read();
        if (done) break;
        if (o + value.length > size) throw new Error('data longer than announced');
        out.set(value, o);
        o += value.length;
      }
    }
    if (o !== size) throw new Error('data shorter than announced');
    return out;
  }

  // byte planes -> n little-endian 64-bit words as [lo, hi] uint32 pairs
  function unshuffle64(p, off, n, u32) {
    for (let i = 0; i < n; i++) {
      u32[2 * i] = (p[off + i] | (p[off + n + i] << 8) | (p[off + 2 * n + i] << 16) |
        (p[off + 3 * n + i] << 24)) >>> 0;
      u32[2 * i + 1] = (p[off + 4 * n + i] | (p[off + 5 * n + i] << 8) |
        (p[off + 6 * n + i] << 16) | (p[off + 7 * n + i] << 24)) >>> 0;
    }
  }

  // undo the zigzag, then `order` running sums, in exact wrap-around 64-bit arithmetic
  function undelta64(u32, n, order) {
    const lo = new Float64Array(order + 1);
    const hi = new Float64Array(order + 1);
    for (let i = 0; i < n; i++) {
      const zlo = u32[2 * i];
      const zhi = u32[2 * i + 1];
      let vlo = ((zlo >>> 1) | (zhi << 31)) >>> 0;
      let vhi = zhi >>> 1;
      if (zlo & 1) {
        vlo = (~vlo) >>> 0;
        vhi = (~vhi) >>> 0;
      }
      for (let k = 0; k < order; k++) {
        const s = lo[k] + vlo;
        vlo = s >>> 0;
        vhi = (hi[k] + vhi + (s > 0xFFFFFFFF ? 1 : 0)) >>> 0;
        lo[k] = vlo;
        hi[k] = vhi;
      }
      u32[2 * i] = vlo;
      u32[2 * i + 1] = vhi;
    }
  }

  async function decodeCurve(c) {
    if (c.codec === 'f64') return c.y; // the explorer sends raw arrays
    const n = c.n;
    const y = new Float64Array(n);
    if (c.codec === 'dd') {
      const bytes = await inflate(c.data, 2 * n + 8 * c.exc);
      const u32 = new Uint32Array(y.buffer);
      const exc = new Uint32Array(2 * c.exc);
      unshuffle64(bytes, 2 * n, c.exc, exc);
      for (let i = 0, e = 0; i < n; i++) {
        const v = bytes[i] | (bytes[n + i] << 8);
        if (v === 0xFFFF) {
          u32[2 * i] = exc[2 * e];
          u32[2 * i + 1] = exc[2 * e + 1];
          e++;
        } else {
          u32[2 * i] = v;
          u32[2 * i + 1] = 0;
        }
      }
      undelta64(u32, n, c.order);
    } else if (c.codec === 'rle') {
      const R = c.runs;
      const bytes = await inflate(c.data, 12 * R);
      const vals = new Float64Array(R);
      const v32 = new Uint32Array(vals.buffer);
      unshuffle64(bytes, 0, R, v32);
      undelta64(v32, R, 2);
      const o = 8 * R;
      let pos = 0;
      for (let r = 0; r < R; r++) {
        const cnt = (bytes[o + r] | (bytes[o + R + r] << 8) | (bytes[o + 2 * R + r] << 16) |
          (bytes[o + 3 * R + r] << 24)) >>> 0;
        y.fill(vals[r], pos, pos + cnt);
        pos += cnt;
      }
      if (pos !== n) throw new Error('run lengths do not add up for ' + c.name);
    } else {
      throw new Error('unknown codec ' + c.codec);
    }
    return y;
  }

  // event steps: uint32 gaps; labels: uint16 indices into a table (both zlib, base64)
  async function decodeEvents(ev) {
    if (!ev || !ev.count) return [];
    const n = ev.count;
    const gaps = await inflate(ev.steps, 4 * n);
    const which = await inflate(ev.which, 2 * n);
    const g = new DataView(gaps.buffer);
    const w = new DataView(which.buffer);
    const out = new Array(n);
    let s = 0;
    for (let i = 0; i < n; i++) {
      s += g.getUint32(4 * i, true);
      const k = w.getUint16(2 * i, true);
      out[i] = { step: s, label: ev.labels[k], kind: ev.kinds[k] };
    }
    return out;
  }

  // ------------------------------------------------------------------ M4 decimation
  // Per device-pixel column of the view, keep the first, last, min and max sample of every
  // visible curve (the union of their indices: all series share one x array). A line through
  // these real samples draws the same pixels as one through all samples.
  function decimate(a, b, W) {
    const i0 = Math.max(0, Math.floor(a));
    const i1 = Math.max(i0, Math.min(N - 1, Math.ceil(b)));
    const cnt = i1 - i0 + 1;
    const vis = curves.filter((c) => c.show);
    let idx;
    if (cnt <= 4 * W || vis.length === 0) {
      idx = new Float64Array(cnt);
      for (let i = 0; i < cnt; i++) idx[i] = i0 + i;
    } else {
      const out = new Float64Array(W * (2 + 2 * vis.length) + 2);
      const tmp = new Float64Array(2 + 2 * vis.length);
      let m = 0;
      const span = i1 + 1 - i0;
      for (let k = 0; k < W; k++) {
        const s = i0 + Math.floor((k * span) / W);
        const e = i0 + Math.floor(((k + 1) * span) / W) - 1;
        if (e < s) continue;
        let t = 0;
        tmp[t++] = s;
        tmp[t++] = e;
        for (const c of vis) {
          const y = c.y;
          const skip = logY && c.kind === 'lr';
          const end = Math.min(e, y.length - 1);
          let mn = Infinity;
          let mx = -Infinity;
          let imn = -1;
          let imx = -1;
          for (let i = s; i <= end; i++) {
            const v = y[i];
            if (v < mn && !(skip && v <= 0)) { mn = v; imn = i; } // NaN never compares true
            if (v > mx) { mx = v; imx = i; }
          }
          if (imn >= 0) tmp[t++] = imn;
          if (imx >= 0) tmp[t++] = imx;
        }
        const sub = tmp.subarray(0, t).sort();
        let prev = -1;
        for (let j = 0; j < t; j++) {
          if (sub[j] !== prev) { out[m++] = sub[j]; prev = sub[j]; }
        }
      }
      idx = out.slice(0, m);
    }
    const data = [idx];
    for (const c of curves) {
      const y = c.y;
      const L = idx.length;
      const gaps = (logY && c.kind === 'lr') || c.gaps;
      const col = gaps ? new Array(L) : new Float64Array(L);
      for (let j = 0; j < L; j++) {
        const v = y[idx[j]];
        col[j] = gaps && (v === undefined || v !== v || (logY && c.kind === 'lr' && v <= 0)) ? null : v;
      }
      data.push(col);
    }
    return data;
  }

  // ------------------------------------------------------------------ formatting
  const fmtInt = (k) => Math.round(k).toLocaleString('en-US');
  const spe = () => (P && P.spe ? P.spe : null);
  function fmtEpoch(step) {
    const k = spe();
    if (!k) return '';
    const ep = Math.floor(step / k);
    return k === 1 ? 'epoch ' + fmtInt(ep) : 'epoch ' + fmtInt(ep) + ' · batch ' + fmtInt(step - ep * k) + '/' + fmtInt(k);
  }
  // the shortest text that reads back as the same float64 (Python's repr gives the same digits)
  const exact = (v) => (v === undefined || v !== v ? '—' : String(v));
  const esc = (s) => String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[ch]));

  function fmtTick(v, big) {
    const a = Math.abs(v);
    if (big && a >= 1e6 && v % 1e5 === 0) return (v / 1e6) + 'M';
    if (big && a >= 1e3 && v % 100 === 0) return (v / 1e3) + 'k';
    return Number.isInteger(v) ? String(v) : String(+v.toPrecision(6));
  }
  function fmtY(v) {
    if (v == null) return '';
    const a = Math.abs(v);
    if (a === 0) return '0';
    if (a < 1e-3 || a >= 1e5) {
      return v.toExponential(a.toExponential(2).includes('.00') ? 0 : 1).replace('e-', 'e−');
    }
    return String(+v.toPrecision(4));
  }
  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  // x ticks at round epochs when the axis shows epochs (x stays in steps underneath)
  function epochSplits(self, axisIdx, min, max) {
    const k = spe() || 1;
    const count = Math.max(2, Math.floor(self.bbox.width / (devicePixelRatio || 1) / 80));
    const lo = min / k;
    const hi = max / k;
    const stepE = niceStep(Math.max((hi - lo) / count, 1e-9));
    const out = [];
    for (let e = Math.ceil(lo / stepE) * stepE; e <= hi + 1e-9; e += stepE) out.push(e * k);
    return out;
  }

  // ------------------------------------------------------------------ drawing
  function lowerBound(v) {
    let l = 0;
    let h = events.length;
    while (l < h) {
      const m = (l + h) >> 1;
      if (events[m].step < v) l = m + 1; else h = m;
    }
    return l;
  }

  function drawEvents(self) {
    if (!events.length) return;
    const ctx = self.ctx;
    const { left, top, width, height } = self.bbox;
    const pr = devicePixelRatio || 1;
    const lo = lowerBound(self.scales.x.min);
    const hi = lowerBound(self.scales.x.max + 1e-9);
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.strokeStyle = 'rgba(130,80,223,0.75)';
    ctx.lineWidth = pr;
    ctx.setLineDash([4 * pr, 3 * pr]);
    let lastPx = -1e9;
    const labels = [];
    ctx.beginPath();
    for (let i = lo; i < hi; i++) {
      const px = Math.round(self.valToPos(events[i].step, 'x', true)) + 0.5;
      if (px - lastPx < pr) continue; // one marker per device pixel
      ctx.moveTo(px, top);
      ctx.lineTo(px, top + height);
      lastPx = px;
      labels.push([px, events[i].label]);
    }
    ctx.stroke();
    if (hi - lo <= width / (40 * pr)) { // labels only when they can fit
      ctx.setLineDash([]);
      ctx.font = (11 * pr) + 'px system-ui, sans-serif';
      ctx.textBaseline = 'top';
      ctx.textAlign = 'left';
      let right = -1e9;
      for (const [px, text] of labels) {
        const w = ctx.measureText(text).width + 6 * pr;
        let x = px + 3 * pr;
        if (x + w > left + width) x = px - 3 * pr - w;
        if (x < right) continue;
        ctx.fillStyle = 'rgba(255,255,255,0.85)';
        ctx.fillRect(x, top + 2 * pr, w, 15 * pr);
        ctx.fillStyle = '#6639ba';
        ctx.fillText(text, x + 3 * pr, top + 4 * pr);
        right = x + w + 2 * pr;
      }
    }
    ctx.restore();
  }

  const narrow = () => window.matchMedia(NARROW).matches;
  function chartSize() {
    const el = $('lp-chart');
    const w = Math.max(200, el.clientWidth);
    const top = Math.round(el.getBoundingClientRect().top + window.scrollY);
    const h = narrow()
      ? Math.max(240, Math.min(Math.round(window.innerHeight * 0.5), w))
      : Math.max(280, Math.min(window.innerHeight - top - 90, Math.round(w * 0.6)));
    return { width: w, height: h };
  }

  function padRange(mn, mx, zeroOk) {
    if (mn == null || mx == null || !isFinite(mn) || !isFinite(mx)) return [0, 1];
    if (mn === mx) {
      const d = Math.abs(mn) * 0.1 || 1;
      return [mn - d, mx + d];
    }
    const d = (mx - mn) * 0.05;
    return [zeroOk && mn >= 0 && mn - d < 0 ? 0 : mn - d, mx + d];
  }

  function makeChart() {
    if (u) { u.destroy(); u = null; }
    const kinds = new Set(curves.map((c) => c.kind));
    const scales = {
      x: { time: false, auto: false, range: () => [view.a, view.b] },
      y: logY ? { distr: 3, log: 10 } : { auto: true, range: (s, mn, mx) => padRange(mn, mx, true) },
    };
    if (kinds.has('momentum')) scales.mom = { auto: true, range: (s, mn, mx) => padRange(mn, mx, false) };
    if (kinds.has('metric')) scales.metric = { auto: true, range: (s, mn, mx) => padRange(mn, mx, false) };
    const font = '12px system-ui, sans-serif';
    const xAxis = { scale: 'x', label: xEpoch ? 'epoch' : 'step', labelSize: 20, font, labelFont: font };
    if (xEpoch) {
      xAxis.splits = epochSplits;
      xAxis.values = (s, ticks) => ticks.map((v) => fmtTick(v / (spe() || 1), false));
    } else {
      xAxis.values = (s, ticks) => {
        const big = Math.max(...ticks.map(Math.abs)) >= 1e5; // one style per axis
        return ticks.map((v) => fmtTick(v, big));
      };
    }
    const axes = [xAxis];
    if (kinds.has('lr')) {
      axes.push({ scale: 'y', label: KIND_LABEL.lr + (logY ? ' (log)' : ''), labelSize: 22, font,
        labelFont: font, space: 36, size: narrow() ? 50 : 64, values: (s, t) => t.map(fmtY) });
    }
    for (const k of ['momentum', 'metric']) {
      if (!kinds.has(k)) continue;
      axes.push({ scale: KIND_SCALE[k], side: 1, label: KIND_LABEL[k], labelSize: 22, font,
        labelFont: font, space: 36, size: narrow() ? 46 : 56, grid: { show: !kinds.has('lr') },
        values: (s, t) => t.map(fmtY) });
    }
    // one step per device pixel or less: a line through the M4 points is exact and smooth;
    // zoomed in: true steps (the value of step s holds on [s, s+1))
    const stepped = uPlot.paths.stepped({ align: 1, extend: true });
    const linear = uPlot.paths.linear();
    const pathFor = (self, si, i0, i1) => ((view.b - view.a) > self.bbox.width ? linear : stepped)(self, si, i0, i1);
    const series = [{ label: 'step' }].concat(curves.map((c) => (c.kind === 'metric'
      ? { label: c.name, scale: c.scale, stroke: c.color, width: 1.25, show: c.show, spanGaps: true,
        paths: linear, points: { size: 5, fill: c.color } }
      : { label: c.name, scale: c.scale, stroke: c.color, width: c.kind === 'lr' ? 1.6 : 1.25,
        dash: c.kind === 'lr' ? undefined : [6, 3], show: c.show, paths: pathFor,
        points: { show: false }, spanGaps: false })));
    const size = chartSize();
    const opts = {
      ...size,
      series,
      scales,
      axes,
      legend: { show: false },
      cursor: {
        points: { show: false },
        y: false,
        drag: { x: true, y: false, setScale: false },
        bind: {
          dblclick: () => () => { resetView(); return null; },
          mousedown: (self, targ, handler) => (e) => {
            if (e.shiftKey && e.button === 0) { startPan(e); return null; }
            return handler(e);
          },
        },
      },
      hooks: {
        setSelect: [(self) => {
          const w = self.select.width;
          if (w > 2) setView(self.posToVal(self.select.left, 'x'), self.posToVal(self.select.left + w, 'x'));
          self.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        }],
        setCursor: [updateHover],
        draw: [drawEvents],
      },
    };
    const devW = Math.max(1, Math.round((size.width - 130) * (devicePixelRatio || 1)));
    u = new uPlot(opts, decimate(view.a, view.b, devW), $('lp-chart'));
    u.over.addEventListener('wheel', onWheel, { passive: false });
    u.over.addEventListener('mouseleave', hideHover);
    u.over.addEventListener('touchstart', onTouch, { passive: true });
    u.over.addEventListener('touchmove', onTouch, { passive: true });
  }

  function redraw() {
    const t = performance.now();
    const data = decimate(view.a, view.b, Math.max(1, Math.round(u.bbox.width)));
    lastIdx = data[0];
    u.batch(() => {
      u.setData(data, false);
      u.setScale('x', { min: view.a, max: view.b });
    });
    const dt = performance.now() - t;
    timings.redraws.push(dt);
    if (timings.redraws.length > 50) timings.redraws.shift();
    updateInfo();
    return dt;
  }

  function clampView(a, b) {
    const minSpan = Math.min(N, 4);
    const w = Math.max(b - a, minSpan);
    if (w >= N) return { a: 0, b: N };
    if (a < 0) a = 0;
    if (a + w > N) a = N - w;
    return { a, b: a + w };
  }
  function setView(a, b) {
    view = clampView(Math.min(a, b), Math.max(a, b));
    return redraw();
  }
  function resetView() { return setView(0, N); }
  function zoomAt(x, factor) { setView(x - (x - view.a) * factor, x + (view.b - x) * factor); }

  function onWheel(e) {
    e.preventDefault();
    const rect = u.over.getBoundingClientRect();
    const x = u.posToVal(e.clientX - rect.left, 'x');
    if (Math.abs(e.deltaX) > Math.abs(e.deltaY) || e.shiftKey) {
      const d = ((e.shiftKey ? e.deltaY || e.deltaX : e.deltaX) / rect.width) * (view.b - view.a);
      setView(view.a + d, view.b + d);
    } else {
      zoomAt(x, Math.exp(Math.max(-1, Math.min(1, e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.002)))));
    }
  }
  function startPan(e) {
    const x0 = e.clientX;
    const v0 = { ...view };
    const wpx = u.over.getBoundingClientRect().width;
    const move = (ev) => {
      const d = ((x0 - ev.clientX) / wpx) * (v0.b - v0.a);
      setView(v0.a + d, v0.b + d);
    };
    const up = () => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
      u.over.style.cursor = '';
    };
    u.over.style.cursor = 'grabbing';
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  }
  function onTouch(e) {
    const t = e.touches[0];
    if (!t) return;
    const r = u.over.getBoundingClientRect();
    u.setCursor({ left: t.clientX - r.left, top: t.clientY - r.top });
  }
  function onKey(e) {
    const w = view.b - view.a;
    const k = e.key;
    if (k === 'ArrowLeft') setView(view.a - w * 0.1, view.b - w * 0.1);
    else if (k === 'ArrowRight') setView(view.a + w * 0.1, view.b + w * 0.1);
    else if (k === '+' || k === '=') zoomAt((view.a + view.b) / 2, 0.8);
    else if (k === '-' || k === '_') zoomAt((view.a + view.b) / 2, 1.25);
    else if (k === '0' || k === 'Escape') resetView();
    else return;
    e.preventDefault();
  }

  // ------------------------------------------------------------------ hover
  const tipDocked = () => getComputedStyle($('lp-tip')).position === 'static';
  const TIP_EMPTY = '<div class="h lp-muted">Hover or tap the plot for exact values</div>';

  function updateHover(self) {
    const left = self.cursor.left;
    const top = self.cursor.top;
    if (left == null || left < 0) { hideHover(); return; }
    const s = Math.min(N - 1, Math.max(0, Math.floor(self.posToVal(left, 'x'))));
    hoverStep = s;
    const tip = $('lp-tip');
    let html = '<div class="h">step ' + fmtInt(s) + (spe() ? ' <span class="lp-muted">· ' + fmtEpoch(s) + '</span>' : '') + '</div>';
    const ox = self.bbox.left / (devicePixelRatio || 1);
    const oy = self.bbox.top / (devicePixelRatio || 1);
    curves.forEach((c, i) => {
      if (!c.show) return;
      const v = c.y[s];
      html += '<div class="r" data-curve="' + i + '"><span class="lp-sw" style="background:' + c.color + '"></span>' +
        '<span class="n">' + esc(c.name) + '</span><span class="v">' + exact(v) + '</span></div>';
      const ok = v !== undefined && v === v && !(logY && c.kind === 'lr' && v <= 0);
      const py = ok ? self.valToPos(v, c.scale) : null;
      if (py == null || py < 0 || py > self.over.clientHeight) {
        c.dot.style.display = 'none';
      } else {
        c.dot.style.display = 'block';
        c.dot.style.left = (ox + self.valToPos(c.kind === 'metric' ? s : s + 0.5, 'x')) + 'px';
        c.dot.style.top = (oy + py) + 'px';
      }
    });
    if (events.length) { // events within 4 css px of the cursor
      const a = self.posToVal(left - 4, 'x');
      const b = self.posToVal(left + 4, 'x');
      for (let i = lowerBound(a), shown = 0; i < events.length && events[i].step <= b && shown < 4; i++, shown++) {
        html += '<div class="r ev">▲ ' + esc(events[i].label) + ' at step ' + fmtInt(events[i].step) + '</div>';
      }
    }
    tip.innerHTML = html;
    tip.style.display = 'block';
    if (tipDocked()) return;
    const chart = $('lp-chart');
    const cw = chart.clientWidth;
    const ch = chart.clientHeight;
    const tw = tip.offsetWidth;
    const th = tip.offsetHeight;
    let x = ox + left + 14;
    if (x + tw > cw) x = ox + left - 14 - tw;
    if (x < 0) x = Math.max(0, cw - tw);
    let y = oy + top + 14;
    if (y + th > ch) y = Math.max(0, oy + top - 14 - th);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideHover() {
    hoverStep = null;
    const tip = $('lp-tip');
    if (tipDocked()) tip.innerHTML = TIP_EMPTY; else tip.style.display = 'none';
    for (const c of curves) c.dot.style.display = 'none';
  }

  // ------------------------------------------------------------------ legend, notes, toolbar
  function buildLegend() {
    const leg = $('lp-legend');
    leg.textContent = '';
    curves.forEach((c, i) => {
      const b = document.createElement('button');
      b.className = 'lp-item' + (c.show ? '' : ' off');
      b.type = 'button';
      b.setAttribute('aria-pressed', String(c.show));
      b.title = 'show or hide ' + c.name;
      const kind = c.kind !== 'lr' && !c.name.toLowerCase().includes(c.kind) ? ' <span class="lp-muted">(' + c.kind + ')</span>' : '';
      b.innerHTML = '<span class="lp-sw" style="background:' + c.color + '"></span>' + esc(c.name) + kind;
      b.onclick = () => {
        c.show = !c.show;
        b.classList.toggle('off', !c.show);
        b.setAttribute('aria-pressed', String(c.show));
        u.setSeries(i + 1, { show: c.show });
        redraw();
        if (!c.show) c.dot.style.display = 'none';
      };
      leg.appendChild(b);
    });
  }

  function buildNotes() {
    const el = $('lp-notes');
    if (!el) return;
    el.textContent = '';
    for (const d of P.notes || []) {
      const li = document.createElement('li');
      li.className = 'lp-note ' + (d.level || 'info');
      li.innerHTML = '<span class="lp-icon">' + (d.level === 'warning' ? '⚠' : d.level === 'note' ? '·' : 'ℹ') + '</span> ' +
        esc(d.message) + (d.fix ? '<div class="lp-fix">fix: ' + esc(d.fix) + '</div>' : '');
      el.appendChild(li);
    }
    el.hidden = !el.children.length;
  }

  function updateInfo() {
    const full = view.a <= 0 && view.b >= N;
    const k = spe();
    $('lp-info').textContent = fmtInt(N) + ' steps' + (k ? ' · ' + fmtInt(Math.ceil(N / k)) + ' epochs' : '') +
      (full ? '' : ' · showing ' + fmtInt(Math.max(0, view.a)) + '–' + fmtInt(view.b)) +
      ' · ' + fmtInt(lastIdx ? lastIdx.length : 0) + ' points drawn';
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) { /* file:// or no permission: fall back */ }
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }
  function copyButton(btn, text) {
    const label = btn.dataset.label || btn.textContent;
    btn.dataset.label = label;
    copyText(typeof text === 'function' ? text() : text).then((ok) => {
      btn.textContent = ok ? 'Copied ✓' : 'Copy failed';
      btn.classList.toggle('ok', ok);
      setTimeout(() => { btn.textContent = label; btn.classList.remove('ok'); }, 1500);
    });
  }

  // ------------------------------------------------------------------ loading
  // Show a payload; with the same curve layout the chart, view and hidden curves are kept.
  async function load(payload) {
    const t0 = performance.now();
    const before = curves.map((c) => c.name + '/' + c.kind).join('|');
    const prevN = N;
    const ys = [];
    for (const c of payload.curves) ys.push(await decodeCurve(c));
    const evs = await decodeEvents(payload.events);
    timings.decode = performance.now() - t0;
    P = payload;
    N = Math.max(1, ...ys.map((y) => y.length));
    const shown = new Map(curves.map((c) => [c.name, c.show]));
    for (const c of curves) c.dot.remove();
    curves.length = 0;
    payload.curves.forEach((c, i) => {
      const y = ys[i];
      let gaps = y.length < N;
      for (let j = 0; j < y.length && !gaps; j++) if (y[j] !== y[j]) gaps = true;
      const color = c.color || PALETTE[i % PALETTE.length];
      const dot = document.createElement('div');
      dot.className = 'lp-dot';
      dot.style.background = color;
      $('lp-chart').appendChild(dot);
      curves.push({ name: c.name, kind: c.kind, y, gaps, color, dot, scale: KIND_SCALE[c.kind] || 'y',
        show: shown.has(c.name) ? shown.get(c.name) : c.show !== false });
    });
    events = evs.sort((p, q) => p.step - q.step);
    if (payload.log !== undefined && payload.log !== logY) { logY = !!payload.log; $('lp-log').checked = logY; }
    const wantEpoch = payload.x === 'epoch' && !!payload.spe;
    const axisChanged = wantEpoch !== xEpoch;
    xEpoch = wantEpoch;
    $('lp-title').textContent = payload.title;
    const sub = $('lp-command');
    if (sub) { sub.textContent = payload.title !== payload.command ? payload.command : ''; sub.hidden = !sub.textContent; }
    buildLegend();
    buildNotes();
    const t1 = performance.now();
    view = N !== prevN ? { a: 0, b: N } : clampView(view.a, view.b);
    const layout = curves.map((c) => c.name + '/' + c.kind).join('|');
    if (!u || layout !== before || axisChanged || (u && u.scales.y.distr === 3) !== logY) makeChart();
    redraw();
    hideHover();
    timings.draw = performance.now() - t1;
    timings.load = performance.now() - t0;
  }

  function setLog(on) {
    logY = !!on;
    $('lp-log').checked = logY;
    makeChart();
    redraw();
  }

  function wire() {
    $('lp-log').onchange = (e) => setLog(e.target.checked);
    $('lp-reset').onclick = () => resetView();
    const copy = $('lp-copy');
    if (copy) copy.onclick = () => copyButton(copy, () => P.command);
    const chart = $('lp-chart');
    chart.tabIndex = 0;
    chart.addEventListener('keydown', onKey);
    let pending = 0;
    new ResizeObserver(() => {
      if (pending || !u) return;
      pending = requestAnimationFrame(() => {
        pending = 0;
        const s = chartSize();
        if (s.width !== u.width || s.height !== u.height) {
          u.setSize(s);
          redraw();
        }
      });
    }).observe(chart);
  }

  async function main() {
    wire();
    const el = $('lrplot-data');
    if (!el) return; // the explorer loads its own payloads
    await load(JSON.parse(el.textContent));
    timings.ready = performance.now() - T0;
    document.body.dataset.ready = '1';
  }

  window.lrplot = {
    get u() { return u; },
    get view() { return { ...view }; },
    get hoverStep() { return hoverStep; },
    get events() { return events; },
    get payload() { return P; },
    get logY() { return logY; },
    curves,
    timings,
    load,
    setView,
    resetView,
    redraw,
    setLog,
    copyText,
    copyButton,
  };
  main().catch((e) => {
    $('lp-err').textContent = 'Error: ' + e.message;
    console.error(e);
    document.body.dataset.ready = 'error';
  });
})();
