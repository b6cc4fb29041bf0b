// topshare dashboard: every number comes from the JSON API; charts are the server's Plotly specs.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const NULL_VALUE = "\u0000null";
  let meta = null;
  let config = {};
  let generation = 0;

  function money(text) {
    if (text === null || text === undefined) return "n/a";
    const neg = text.startsWith("-");
    const body = neg ? text.slice(1) : text;
    const [whole, frac] = body.split(".");
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + grouped + (frac !== undefined ? "." + frac : "");
  }
  function pct(x) { return x === null || x === undefined ? "n/a" : (100 * x).toFixed(1) + " %"; }
  function fixed(x, d) {
    if (x === null || x === undefined) return "n/a";
    const [whole, frac] = x.toFixed(d).split(".");
    return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (frac ? "." + frac : "");
  }
  function text(id, value) { $(id).textContent = value; }

  function params(extra) {
    const p = new URLSearchParams();
    const top = parseInt($("top").value, 10);
    p.set("top", Number.isFinite(top) ? String(top) : "10");
    if ($("period").value) p.set("period", $("period").value);
    if ($("from").value) p.set("from", $("from").value);
    if ($("to").value) p.set("to", $("to").value);
    if (meta && meta.traffic) {
      p.set("dimension", $("dimension").value);
      p.set("measure", $("measure").value);
    }
    for (const sel of document.querySelectorAll("#filters select")) {
      if (sel.value === "") continue;
      p.append("filter", sel.dataset.column + "=" + (sel.value === NULL_VALUE ? "" : sel.value));
    }
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    return p.toString();
  }

  async function api(path, query) {
    const res = await fetch(path + "?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await res.json();
    if (!res.ok) throw new Error(body && body.error ? body.error.message : res.statusText);
    return body;
  }

  function showError(message) {
    const box = $("error");
    box.hidden = !message;
    box.textContent = message || "";
  }

  function draw(id, fig) {
    const div = $(id);
    const panel = div.closest(".panel");
    if (!fig) { if (window.Plotly) Plotly.purge(div); panel.hidden = true; return; }
    panel.hidden = false;
    Plotly.react(div, fig.data, fig.layout, config);
  }

  function renderCards(s) {
    const entities = s.labels.entities;
    text("card-share", pct(s.top_n_share));
    text("card-sum", "top " + s.top_n + ": " + money(s.top_n_sum));
    text("card-total", money(s.total));
    text("card-n", fixed(s.n_entities, 0) + " " + entities);
    text("card-hhi", fixed(s.hhi_points, 0));
    text("card-band", s.hhi_band || "n/a");
    text("card-gini", fixed(s.gini, 4));
    text("card-eff", "effective number " + fixed(s.effective_number, 1));
    text("card-pareto", s.pareto.k === null ? "n/a" : fixed(s.pareto.k, 0));
    text("card-pareto-s", s.pareto.fraction === null ? "" :
      pct(s.pareto.fraction) + " of " + entities + " hold " + pct(s.pareto.threshold));
  }

  function cell(row, value, cls) {
    const td = document.createElement("td");
    if (value instanceof Node) td.appendChild(value); else td.textContent = value;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function renderTop(t) {
    text("top-title", "Top " + t.top_n + " " + t.labels.entities);
    text("entity-head", t.labels.entity);
    // Access logs: visitors of each top row (distinct IP + user agent per day; never summed).
    const visitors = t.traffic && t.traffic.visitors.length ?
      Object.fromEntries(t.traffic.visitors.map((v) => [v.entity, v.count])) : null;
    $("visitors-head").hidden = !visitors;
    const blank = visitors ? 1 : 0;
    const body = $("top-table").tBodies[0];
    body.replaceChildren();
    for (const r of t.top) {
      const tr = document.createElement("tr");
      tr.dataset.entity = r.entity;
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "entity";
      btn.textContent = r.entity + (r.major ? " \u2605" : "");
      btn.addEventListener("click", () => openEntity(r.entity));
      cell(tr, String(r.rank));
      cell(tr, btn);
      cell(tr, money(r.value), "num");
      cell(tr, pct(r.share), "num");
      cell(tr, pct(r.cumulative_share), "num");
      cell(tr, r.abc || "");
      if (visitors) cell(tr, Object.hasOwn(visitors, r.entity) ? fixed(visitors[r.entity], 0) : "n/a", "num");
      body.appendChild(tr);
    }
    const foot = $("top-table").tFoot;
    foot.replaceChildren();
    const others = document.createElement("tr");
    others.id = "others-row";
    cell(others, "");
    cell(others, "Others (" + fixed(t.others.entities, 0) + ")");
    cell(others, money(t.others.value), "num");
    cell(others, pct(t.others.share), "num");
    cell(others, ""); cell(others, "");
    if (blank) cell(others, "");
    const total = document.createElement("tr");
    total.id = "total-row";
    cell(total, ""); cell(total, "Total"); cell(total, money(t.total), "num");
    cell(total, pct(t.total && Number(t.total) > 0 ? 1 : null), "num"); cell(total, ""); cell(total, "");
    if (blank) cell(total, "");
    foot.append(others, total);
  }

  function segmentName(seg) {
    return Object.entries(seg).map(([k, v]) => k + " = " + (v === null ? "(empty)" : v)).join(", ");
  }

  function renderSegments(s) {
    const panel = $("segments-panel");
    if (!s || !s.segments || !s.segments.length) { panel.hidden = true; return; }
    panel.hidden = false;
    const body = $("segments-table").tBodies[0];
    body.replaceChildren();
    for (const seg of s.segments) {
      const tr = document.createElement("tr");
      cell(tr, segmentName(seg.segment));
      cell(tr, money(seg.total), "num");
      cell(tr, pct(seg.top_n_share), "num");
      cell(tr, fixed(seg.hhi_points, 0), "num");
      cell(tr, fixed(seg.gini, 4), "num");
      cell(tr, fixed(seg.n_entities, 0), "num");
      body.appendChild(tr);
    }
  }

  async function openEntity(name) {
    const mine = generation;
    try {
      const e = await api("/api/entity", params({ name: name }));
      if (mine !== generation) return;
      $("entity-panel").hidden = false;
      text("entity-title", e.entity);
      text("entity-facts", money(e.value) + " = " + pct(e.share) + " of the total, rank " +
        (e.rank === null ? "n/a" : e.rank) + " of " + fixed(e.n_entities, 0));
      const div = $("chart-entity");
      if (e.chart) { div.hidden = false; Plotly.react(div, e.chart.data, e.chart.layout, config); }
      else { Plotly.purge(div); div.hidden = true; }
      $("entity-panel").dataset.entity = e.entity;
      document.body.dataset.entity = e.entity;
    } catch (err) { showError(err.message); }
  }

  async function refresh() {
    const mine = ++generation;
    document.body.dataset.state = "loading";
    text("status", "loading\u2026");
    const q = params();
    try {
      const calls = [api("/api/summary", q), api("/api/top", q), api("/api/charts", q)];
      if (meta && Object.keys(meta.segments).length) calls.push(api("/api/segments", q));
      const [summary, top, charts, segs] = await Promise.all(calls);
      if (mine !== generation) return;
      showError("");
      config = charts.config || {};
      renderCards(summary);
      renderTop(top);
      renderSegments(segs);
      for (const key of ["pareto", "lorenz", "trend", "churn", "segments"]) draw("chart-" + key, charts.charts[key]);
      text("status", "");
      document.body.dataset.query = q;
      document.body.dataset.state = "ready";
    } catch (err) {
      if (mine !== generation) return;
      showError(err.message);
      text("status", "");
      document.body.dataset.state = "error";
    }
  }

  // Access logs: the dimension and measure controls (only the ones this log has).
  function initTraffic(t, src) {
    const fill = (id, items, chosen) => {
      const sel = $(id);
      for (const [value, label] of items) {
        const opt = document.createElement("option");
        opt.value = value; opt.textContent = label;
        sel.appendChild(opt);
      }
      sel.value = chosen;
    };
    fill("dimension", t.dimensions.map((d) => [d.name, d.name]), t.dimension);
    fill("measure", t.measures.map((m) => [m, m]), t.measure);
    $("traffic-controls").hidden = false;
    $("dimension").addEventListener("change", () => { $("entity-panel").hidden = true; });
    const bots = t.bot_share_hits === null ? "bots unknown" : "bots " + pct(t.bot_share_hits) + " of hits";
    text("source", src + " \u2014 " + t.format + " log, " + fixed(t.lines, 0) + " lines, " + bots +
      (t.bots === "include" ? "" : " (" + t.bots + " bots)"));
  }

  async function init() {
    meta = await api("/api/meta", "");
    const src = meta.source.paths.join(", ");
    if (meta.traffic) initTraffic(meta.traffic, src);
    else text("source", src + " \u2014 " + meta.labels.entity + " = " + meta.columns.entity +
      (meta.columns.value ? ", value = " + meta.columns.value : ", counting rows") +
      (meta.columns.date ? ", date = " + meta.columns.date : ""));
    $("top").max = String(meta.limits.top);
    const period = $("period");
    for (const name of meta.periods) {
      const opt = document.createElement("option");
      opt.value = name; opt.textContent = name;
      period.appendChild(opt);
    }
    if (meta.periods.includes("month")) period.value = "month";
    if (!meta.date_range) { period.disabled = true; $("from").disabled = true; $("to").disabled = true; }
    else {
      for (const id of ["from", "to"]) {
        $(id).min = meta.date_range.first.slice(0, 10);
        $(id).max = meta.date_range.last.slice(0, 10);
      }
    }
    const filters = $("filters");
    for (const [column, values] of Object.entries(meta.segments)) {
      const label = document.createElement("label");
      label.textContent = column;
      const sel = document.createElement("select");
      sel.dataset.column = column;
      sel.name = "filter-" + column;
      const all = document.createElement("option");
      all.value = ""; all.textContent = "(all)";
      sel.appendChild(all);
      for (const v of values) {
        const opt = document.createElement("option");
        opt.value = v === null ? NULL_VALUE : v;
        opt.textContent = v === null ? "(empty)" : v;
        sel.appendChild(opt);
      }
      label.appendChild(sel);
      filters.appendChild(label);
    }
    $("controls").addEventListener("change", refresh);
    $("controls").addEventListener("submit", (ev) => { ev.preventDefault(); refresh(); });
    $("entity-close").addEventListener("click", () => { $("entity-panel").hidden = true; });
    await refresh();
  }

  document.addEventListener("DOMContentLoaded", () => { init().catch((err) => showError(err.message)); });
})();
