/* scalewall page: form <-> URL query string, calls to the JSON API, charts via charts.js.
 * The page computes nothing: it parses the form, posts it, and draws what comes back. */
(function () {
  "use strict";
  const C = window.ScalewallCharts;
  const $ = (sel) => document.querySelector(sel);
  const form = $("#form");
  const DEFAULTS = {model: "llama-3.1-70b", hardware: "h100-sxm", devices: "1024", tokens: "15T",
                    region: "us-average", s_hardware: "h200-sxm", s_devices: "8", batch: "64",
                    prompt: "2048", output: "256", s_precision: "bf16", precision: "bf16",
                    objective: "time"};
  const COMPARE = ["h100-sxm", "h200-sxm", "b200", "mi300x", "tpu-v5p", "trainium2", "gaudi3"];
  const VIEWS = ["plan", "compare", "serve", "wall"];
  const state = {view: "plan", hfConfig: null, hfName: null, features: {}, limits: {}};

  // ---- input parsing -------------------------------------------------------------------
  const SUFFIX = {"": 1, k: 1e3, m: 1e6, b: 1e9, g: 1e9, t: 1e12, p: 1e15};
  function amount(text, name) {
    /* "15.6T" -> 1.56e13; blank or "auto" -> null (the planner's default). */
    const t = (text || "").trim().toLowerCase();
    if (t === "" || t === "auto") return null;
    const m = t.match(/^([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kmbgtp]?)$/);
    if (!m) throw fieldError(name, `${name} must be a number, optionally with K, M, B or T (e.g. 15.6T), got "${text}"`);
    const v = parseFloat(m[1]) * SUFFIX[m[2]];
    if (!(v > 0) || !isFinite(v)) throw fieldError(name, `${name} must be > 0, got "${text}"`);
    return v;
  }
  function integer(name, {optional = true, min = 1} = {}) {
    const el = form.elements[name], t = (el.value || "").trim();
    if (t === "") {
      if (optional) return null;
      throw fieldError(name, `${name} is required`);
    }
    if (!/^\d+$/.test(t) || parseInt(t, 10) < min)
      throw fieldError(name, `${name} must be an integer ≥ ${min}, got "${t}"`);
    return parseInt(t, 10);
  }
  function sentence(t) { return t.charAt(0).toUpperCase() + t.slice(1) + "."; }
  function fieldError(field, msg) { const e = new Error(msg); e.fields = [{field, msg}]; return e; }

  function modelPart() {
    if (form.elements.model.value === "__upload__" && state.hfConfig)
      return {model: null, hf_config: state.hfConfig, hf_name: state.hfName};
    return {model: form.elements.model.value};
  }
  function trainBody() {
    const v = (n) => form.elements[n].value;
    const body = Object.assign(modelPart(), {
      hardware: v("hardware"), devices: integer("devices"), tokens: amount(v("tokens"), "tokens"),
      region: v("region") || null, seq_len: integer("seq_len"), global_batch: integer("global_batch"),
      tp: integer("tp"), pp: integer("pp"), precision: v("precision"), objective: v("objective"),
      unique_tokens: amount(v("unique_tokens"), "unique_tokens"), top: 5,
    });
    const pue = v("pue").trim();
    if (pue !== "") body.pue = /^[0-9.]+$/.test(pue) ? parseFloat(pue) : pue;
    const goodput = v("goodput").trim();
    if (goodput !== "") body.goodput = parseFloat(goodput);
    return body;
  }
  function serveBody() {
    const v = (n) => form.elements[n].value;
    return Object.assign(modelPart(), {
      hardware: v("s_hardware"), devices: integer("s_devices", {optional: false}),
      batch: integer("batch", {optional: false}), prompt: integer("prompt", {optional: false, min: 0}),
      output: integer("output", {optional: false}), precision: v("s_precision"),
      grouped_kv_reads: v("s_kv_reads") !== "per-head",
      ep: integer("s_ep") || 1, attention_dp: v("s_attention").startsWith("dp"),
      attention_dp_balance: v("s_attention") === "dp-balanced", moe_dispatch: v("s_dispatch"),
      speculative_tokens: integer("s_spec", {min: 0}) || 0,
    }, v("rps").trim() === "" ? {} : {requests_per_s: parseFloat(v("rps"))},
    v("s_accepted").trim() === "" ? {} : {accepted_tokens: parseFloat(v("s_accepted"))},
    v("s_draft").trim() === "" ? {} : {draft: v("s_draft").trim()});
  }
  function compareList() {
    return Array.from(document.querySelectorAll("#compare-list input:checked")).map((x) => x.value);
  }

  // ---- URL state -------------------------------------------------------------------------
  function toURL() {
    const p = new URLSearchParams();
    p.set("view", state.view);
    for (const el of form.elements) {
      if (!el.name || el.type === "file" || el.type === "checkbox") continue;
      if (el.value !== "" && !(el.name === "model" && el.value === "__upload__")) p.set(el.name, el.value);
    }
    p.set("compare", compareList().join(","));
    history.replaceState(null, "", "?" + p.toString());
    $("#share").textContent = state.hfConfig && form.elements.model.value === "__upload__"
      ? "The link keeps every field but the uploaded config.json (it is never stored)."
      : "The address bar holds this view: copy it to share.";
  }
  function fromURL() {
    const p = new URLSearchParams(location.search);
    for (const el of form.elements) {
      if (!el.name || el.type === "file" || el.type === "checkbox") continue;
      const value = p.has(el.name) ? p.get(el.name) : DEFAULTS[el.name];
      if (value === undefined) continue;
      if (el.tagName === "SELECT" && !Array.from(el.options).some((o) => o.value === value)) continue;
      el.value = value;
    }
    const chosen = (p.get("compare") || COMPARE.join(",")).split(",");
    document.querySelectorAll("#compare-list input").forEach((x) => { x.checked = chosen.includes(x.value); });
    const view = p.get("view");
    state.view = VIEWS.includes(view) ? view : "plan";
  }

  // ---- errors ------------------------------------------------------------------------------
  const ALIAS = {hf_config: "model", compare: "compare"};
  function clearErrors() {
    $("#errors").hidden = true; $("#errors").textContent = "";
    document.querySelectorAll(".invalid").forEach((x) => x.classList.remove("invalid"));
    document.querySelectorAll(".field-error").forEach((x) => x.remove());
  }
  function serveField(field) {
    if (state.view !== "serve") return field;
    return {hardware: "s_hardware", devices: "s_devices", precision: "s_precision",
            requests_per_s: "rps"}[field] || field;
  }
  function showErrors(messages, fields) {
    const box = $("#errors");
    box.textContent = messages.join("\n"); box.hidden = false;
    for (const f of fields || []) {
      if (!f.field) continue;
      const name = serveField(ALIAS[f.field] || String(f.field).split(".")[0]);
      const el = form.elements[name];
      if (!el || !el.classList) continue;
      el.classList.add("invalid");
      const note = document.createElement("div");
      note.className = "field-error"; note.textContent = f.msg;
      el.insertAdjacentElement("afterend", note);
    }
  }
  async function post(path, body) {
    const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                 body: JSON.stringify(body)});
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const detail = Array.isArray(data.detail) ? data.detail : [];
      const e = new Error(detail.map((d) => (d.field ? d.field + ": " : "") + d.msg).join("\n") ||
                          `HTTP ${r.status}`);
      e.fields = detail.map((d) => ({field: d.field, msg: d.msg}));
      throw e;
    }
    return data;
  }

  // ---- rendering -------------------------------------------------------------------------
  function cards(el, items) {
    el.replaceChildren(...items.map((c) => {
      const d = document.createElement("div"); d.className = "card"; d.dataset.key = c.key;
      for (const [cls, text] of [["label", c.label], ["value", c.value], ["sub", c.sub]]) {
        const s = document.createElement("div"); s.className = cls; s.textContent = text; d.appendChild(s);
      }
      return d;
    }));
  }
  function table(el, head, rows) {
    const tr = (cells, tag) => {
      const r = document.createElement("tr");
      for (const c of cells) {
        const x = document.createElement(tag);
        if (typeof c === "object" && c !== null) { x.textContent = c.text; x.className = c.cls; x.colSpan = c.span || 1; }
        else x.textContent = c;
        r.appendChild(x);
      }
      return r;
    };
    el.replaceChildren(tr(head, "th"), ...rows.map((r) => tr(r, "td")));
  }
  function reveal(view) {
    /* Charts are laid out only once visible: plotly sizes a chart to its container. */
    $("#view-" + view).dataset.drawn = "1";
  }
  async function runPlan() {
    const plan = await post("/api/train/plan", trainBody());
    reveal("plan");
    $("#plan-title").textContent = `Training ${plan.model} on ${C.num(plan.n_devices)} × ${plan.hardware}`;
    cards($("#plan-cards"), C.trainCards(plan));
    await C.memoryChart($("#chart-memory"), plan.memory);
    await C.stepChart($("#chart-step"), plan.step, C.TRAIN_STEP);
    await C.costChart($("#chart-cost"), plan.footprint);
    await C.dataChart($("#chart-data"), plan.data);
    $("#plan-note").textContent = `${C.num(plan.n_params)} parameters, ${C.num(plan.train_flop)} FLOP, ` +
      `${plan.layout_searched ? "layout searched over " + C.num(plan.search ? plan.search.n_enumerated : 0) + " candidates" : "layout as given"}; ${plan.note}. ${sentence(plan.evidence.note)}`;
  }
  async function runCompare() {
    const names = compareList();
    if (names.length === 0) throw fieldError("compare", "tick at least one accelerator");
    const body = Object.assign(trainBody(), {compare: names, top: 1});
    const data = await post("/api/train/compare", body);
    reveal("compare");
    await C.compareChart($("#chart-compare"), data.plans);
    table($("#compare-table"), ["accelerator", "layout", "tok/s", "days", "MWh", "tCO2e", "USD", "MFU"],
      data.plans.map((r) => r.ok ? [r.hardware, `${r.layout.tp}×${r.layout.pp}×${r.layout.dp}`,
        C.num(r.step.tokens_per_s), C.num(r.footprint.duration_s / 86400), C.num(C.energyMWh(r.footprint)),
        C.num(C.co2Tonnes(r.footprint)), C.usd(C.trainCost(r.footprint).usd), C.pct(r.step.mfu)]
        : [r.hardware, {text: `${r.error}: ${r.message}`, cls: "err", span: 7}]));
  }
  async function runServe() {
    const body = serveBody();
    const plan = await post("/api/serve/plan", Object.assign({}, body, {ops: true}));
    reveal("serve");
    $("#serve-title").textContent = `Serving ${plan.model} on ${plan.n_devices} × ${plan.hardware}`;
    cards($("#serve-cards"), C.serveCards(plan));
    $("#serve-note").textContent = sentence(plan.evidence.note);
    await C.serveMemoryChart($("#chart-serve-memory"), plan.memory);
    await C.stepChart($("#chart-serve-step"), plan.decode_step, C.SERVE_STEP,
                      `Decode step ${C.num(plan.decode_step.step_s * 1e3)} ms, by part`);
    await C.rooflineChart($("#chart-serve-roofline"), plan.operators);
    const names = compareList().length ? compareList() : COMPARE;
    const cmp = await post("/api/serve/compare", Object.assign({}, body, {compare: names.slice(0, 12)}));
    await C.serveCompareChart($("#chart-serve-compare"), cmp.plans);
    // the model against a state-space hybrid of its size, on one device of this kind; a model
    // whose weights do not fit on one device says so in place of the chart
    const hyb = $("#chart-serve-hybrid");
    try {
      const h = await post("/api/serve/hybrid", Object.assign(modelPart(), {
        hardware: body.hardware, precision: body.precision}));
      hyb.textContent = "";
      delete hyb.dataset.note;
      await C.hybridChart(hyb, h, body.hardware);
    } catch (e) {
      hyb.textContent = "State-space hybrid comparison: " + e.message;
      hyb.dataset.note = "1";
    }
  }
  async function runWall() {
    if (window.ScalewallWall && state.features.wall) await window.ScalewallWall.run(form, post);
    else $("#view-wall").dataset.drawn = "1";
  }
  const RUN = {plan: runPlan, compare: runCompare, serve: runServe, wall: runWall};

  let seq = 0;
  async function run() {
    const mine = ++seq;
    clearErrors();
    toURL();
    $("#status").textContent = "computing…";
    document.body.dataset.state = "busy";
    try {
      await RUN[state.view]();
      if (mine === seq) $("#status").textContent = "";
    } catch (e) {
      if (mine !== seq) return;
      $("#status").textContent = "";
      showErrors([e.message], e.fields);
    } finally {
      if (mine === seq) document.body.dataset.state = "ready";
    }
  }
  function show(view) {
    state.view = view;
    document.body.dataset.view = view;
    document.querySelectorAll("#views button").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
    for (const v of VIEWS) $("#view-" + v).hidden = v !== view;
  }

  // ---- upload ------------------------------------------------------------------------------
  async function upload(file) {
    clearErrors();
    const status = $("#upload-status");
    if (file.size > (state.limits.max_body_bytes || 1048576) / 2) {
      showErrors([`config.json is ${file.size} bytes; the cap is ${(state.limits.max_body_bytes || 1048576) / 2}`], []);
      return;
    }
    let config;
    try { config = JSON.parse(await file.text()); } catch (e) {
      showErrors([`config.json is not valid JSON: ${e.message}`], [{field: "model", msg: "not JSON"}]);
      return;
    }
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
      showErrors(["config.json must hold a JSON object"], []); return;
    }
    try {
      const arch = await post("/api/config", {config, name: file.name.replace(/\.json$/i, "")});
      state.hfConfig = config; state.hfName = arch.name.slice(0, 80);
      let opt = form.elements.model.querySelector("option[value='__upload__']");
      if (!opt) { opt = document.createElement("option"); opt.value = "__upload__"; form.elements.model.prepend(opt); }
      opt.textContent = `uploaded: ${arch.name}`;
      form.elements.model.value = "__upload__";
      status.textContent = `${arch.name}: ${C.num(arch.n_params)} parameters (${arch.family}), read as JSON only.`;
    } catch (e) { showErrors([e.message], [{field: "model", msg: "config.json refused"}]); }
  }

  // ---- start -------------------------------------------------------------------------------
  function options(select, entries, label) {
    select.replaceChildren(...entries.map((e) => {
      const o = document.createElement("option"); o.value = e.id; o.textContent = label(e); return o;
    }));
  }
  async function start() {
    const [catalog, health] = await Promise.all([fetch("/api/catalog").then((r) => r.json()),
                                                 fetch("/api/health").then((r) => r.json())]);
    state.features = health.features || {}; state.limits = health.limits || {};
    options(form.elements.model, catalog.models, (m) => m.name || m.id);
    const accel = (a) => `${a.name || a.id}`;
    options(form.elements.hardware, catalog.accelerators, accel);
    options(form.elements.s_hardware, catalog.accelerators, accel);
    options(form.elements.region, catalog.regions, (r) => `${r.name || r.id}`);
    const list = $("#compare-list");
    list.replaceChildren(...catalog.accelerators.map((a) => {
      const l = document.createElement("label"), c = document.createElement("input");
      c.type = "checkbox"; c.value = a.id; l.appendChild(c); l.append(" " + a.id); return l;
    }));
    if (!state.features.wall) $("#tab-wall").title = "the wall projection is not in this install";
    else await window.ScalewallWall.setup();
    fromURL();
    show(state.view);
    form.addEventListener("submit", (ev) => { ev.preventDefault(); run(); });
    document.querySelectorAll("#views button").forEach((b) => b.addEventListener("click", () => { show(b.dataset.view); run(); }));
    $("#upload").addEventListener("change", (ev) => { const f = ev.target.files[0]; if (f) upload(f); });
    await run();
  }
  start().catch((e) => showErrors([`could not start: ${e.message}`], []));
})();
