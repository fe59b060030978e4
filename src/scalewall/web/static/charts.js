/* scalewall charts: plotly figures drawn from the API's JSON (SI units in, display units out).
 * Shared by the page (/) and the self-contained report (scalewall report). Display code only:
 * every number comes from the planner's to_dict(); this file converts units and lays out.
 */
(function (root) {
  "use strict";
  const GIB = 2 ** 30, DAY = 86400, MWH = 3.6e9, TONNE = 1e6;
  const COLORS = ["#3366cc", "#dc8a00", "#109618", "#990099", "#dd4477", "#0099c6",
                  "#66aa00", "#b82e2e", "#316395", "#994499", "#22aa99", "#6633cc"];
  const BASE = {
    margin: {l: 60, r: 20, t: 40, b: 50}, font: {family: "system-ui, sans-serif", size: 12},
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fbfbfd", hovermode: "closest",
  };
  const CONFIG = {displaylogo: false, responsive: true,
                  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"]};

  function num(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    const a = Math.abs(x), d = digits === undefined ? 3 : digits;
    if (a !== 0 && (a >= 1e15 || a < 1e-3)) return x.toExponential(2);
    // [from, divisor, suffix]: 12,345 -> 12.3k, but 9,870 stays 9,870.
    const units = [[1e12, 1e12, "T"], [1e9, 1e9, "B"], [1e6, 1e6, "M"], [1e4, 1e3, "k"]];
    for (const [from, v, s] of units)
      if (a >= from) return Number((x / v).toPrecision(d)).toLocaleString("en-US") + s;
    return Number(x.toPrecision(d)).toLocaleString("en-US");
  }
  function wrap(text, width) {
    /* Break text into lines of at most ~width characters at spaces, joined by <br>. */
    const lines = [""];
    for (const word of String(text).split(" ")) {
      const last = lines[lines.length - 1];
      if (last && last.length + word.length + 1 > width) lines.push(word);
      else lines[lines.length - 1] = last ? last + " " + word : word;
    }
    return lines.join("<br>");
  }
  function usd(x) { return x === null || x === undefined ? "–" : "$" + num(x); }
  function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%"; }
  function label(key) { return key.replace(/_s$|_bytes$|_bytes_per_device$/, "").replace(/_/g, " "); }

  function draw(el, traces, layout) {
    const lay = Object.assign({}, BASE, layout || {});
    return root.Plotly.newPlot(el, traces, lay, CONFIG);
  }

  function trainCost(fp) {
    /* The total the plan reports: cloud rental where the catalog has a rate, else ownership
     * (amortised price, electricity included: run_footprint's ownership_cost_usd); null where
     * the catalog has neither a rate nor a price. */
    if (fp.rental_cost_usd !== null && fp.rental_cost_usd !== undefined)
      return {usd: fp.rental_cost_usd, basis: "cloud rental"};
    const own = fp.ownership_cost_usd;
    if (own === null || own === undefined)
      return {usd: null, basis: "no cloud rate or price in the catalog"};
    return {usd: own, basis: "ownership + electricity"};
  }
  function hasPower(fp) {
    /* A device with no TDP in the catalog draws 0 W in the footprint: its energy, carbon and
     * electricity are unknown, not zero. */
    return (fp.device_power_w || 0) > 0;
  }
  function energyMWh(fp) { return hasPower(fp) ? fp.energy_j / MWH : null; }
  function co2Tonnes(fp) { return hasPower(fp) ? fp.co2_g / TONNE : null; }

  function trainCards(plan) {
    const fp = plan.footprint, st = plan.step, mem = plan.memory, lay = plan.layout;
    const cost = trainCost(fp);
    const layout = `tp ${lay.tp} · pp ${lay.pp} · dp ${lay.dp}` + (lay.cp > 1 ? ` · cp ${lay.cp}` : "") +
      (lay.ep > 1 ? ` · ep ${lay.ep}` : "") + (lay.vpp > 1 ? ` · vpp ${lay.vpp}` : "");
    return [
      {key: "layout", label: "Layout", value: layout,
       sub: `micro-batch ${lay.micro_batch}, batch ${num(lay.global_batch)} seq, recompute ${lay.recompute}, ZeRO ${lay.zero}`},
      {key: "throughput", label: "Throughput", value: num(st.tokens_per_s) + " tok/s",
       sub: `MFU ${pct(st.mfu)} · ${num(st.model_flop_per_s_per_device / 1e12)} TFLOP/s per device`},
      {key: "days", label: "Duration", value: num(fp.duration_s / DAY) + " days",
       sub: `${num(fp.device_hours)} device-hours · step ${num(st.step_s)} s`},
      {key: "energy", label: "Energy", value: num(energyMWh(fp)) + " MWh",
       sub: hasPower(fp) ? `PUE ${num(fp.pue)} · ${num(fp.facility_power_w / 1e6)} MW facility`
                         : "no TDP in the catalog for this device"},
      {key: "co2", label: "Emissions", value: num(co2Tonnes(fp)) + " tCO2e",
       sub: `grid ${num(fp.grid_g_per_j * 3.6e6)} g/kWh (${plan.region})`},
      {key: "cost", label: "Cost", value: usd(cost.usd), sub: cost.basis},
      {key: "memory", label: "Memory per device",
       value: `${num(mem.total_bytes / GIB)} / ${num(mem.capacity_bytes / GIB)} GiB`,
       sub: mem.feasible ? "fits" : "does not fit"},
      {key: "data", label: "Data", value: num(plan.data.tokens_needed) + " tokens",
       sub: `${num(plan.data.epochs)} epochs of ${num(plan.data.tokens_available)} available`},
    ];
  }

  function memoryChart(el, mem) {
    const parts = ["weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes",
                   "logits_bytes", "overhead_bytes"];
    const traces = parts.map((k, i) => ({
      type: "bar", name: label(k), x: ["per device"], y: [(mem[k] || 0) / GIB],
      marker: {color: COLORS[i]}, hovertemplate: "%{y:.2f} GiB<extra>" + label(k) + "</extra>",
    }));
    const cap = mem.capacity_bytes / GIB;
    return draw(el, traces, {
      title: {text: "Memory per device (GiB)"}, barmode: "stack",
      yaxis: {title: {text: "GiB"}, range: [0, Math.max(cap, mem.total_bytes / GIB) * 1.12]},
      shapes: [{type: "line", xref: "paper", x0: 0, x1: 1, y0: cap, y1: cap,
                line: {color: "#c00", dash: "dash", width: 2}}],
      annotations: [{xref: "paper", x: 1, y: cap, yanchor: "bottom", xanchor: "right",
                     text: `capacity ${cap.toFixed(0)} GiB`, showarrow: false,
                     font: {color: "#c00"}}],
      legend: {orientation: "v"},
    });
  }

  function stepChart(el, step, keys, title) {
    const parts = keys.filter((k) => (step[k] || 0) > 0);
    const total = step.step_s, ms = total < 0.1, k = ms ? 1e3 : 1;
    return draw(el, [{
      type: "bar", orientation: "h", y: parts.map(label), x: parts.map((p) => step[p] * k),
      marker: {color: parts.map((_, i) => COLORS[i % COLORS.length])},
      text: parts.map((p) => (100 * step[p] / total).toFixed(1) + "%"), textposition: "auto",
      hovertemplate: "%{x:.4g} " + (ms ? "ms" : "s") + "<extra>%{y}</extra>",
    }], {
      title: {text: title || `Step time ${num(total)} s, by part`},
      xaxis: {title: {text: (ms ? "milliseconds" : "seconds") + " per step"}}, yaxis: {automargin: true, autorange: "reversed"},
      margin: {l: 110, r: 20, t: 40, b: 50},
    });
  }

  const TRAIN_STEP = ["gemm_s", "attention_s", "elementwise_s", "tp_comm_s", "cp_comm_s",
                      "ep_comm_s", "pp_comm_s", "bubble_s", "dp_comm_s", "optimizer_s"];

  function costChart(el, fp) {
    /* Two alternatives side by side: renting the devices, or owning them (amortised) and
     * paying for the electricity. */
    const has = (x) => x !== null && x !== undefined;
    const traces = [];
    if (has(fp.rental_cost_usd))
      traces.push({type: "bar", name: "cloud rental", x: ["cloud rental"], y: [fp.rental_cost_usd],
                   marker: {color: COLORS[0]}, text: [usd(fp.rental_cost_usd)], textposition: "auto"});
    // ownership_cost_usd includes the electricity: the hardware share is the difference
    const power = has(fp.electricity_cost_usd) ? fp.electricity_cost_usd : 0;
    if (has(fp.ownership_cost_usd))
      traces.push({type: "bar", name: "hardware (amortised)", x: ["own + electricity"],
                   y: [fp.ownership_cost_usd - power], marker: {color: COLORS[2]},
                   text: [usd(fp.ownership_cost_usd - power)], textposition: "auto"});
    if (has(fp.ownership_cost_usd) && has(fp.electricity_cost_usd))
      traces.push({type: "bar", name: "electricity", x: ["own + electricity"],
                   y: [fp.electricity_cost_usd], marker: {color: COLORS[1]},
                   text: [usd(fp.electricity_cost_usd)], textposition: "auto"});
    traces.forEach((t) => { t.hovertemplate = "$%{y:,.0f}<extra>" + t.name + "</extra>"; });
    return draw(el, traces, {title: {text: "Cost of the run: rent or own (USD)"}, barmode: "stack",
                             yaxis: {title: {text: "USD"}}, legend: {orientation: "h", y: -0.15}});
  }

  function dataChart(el, data) {
    return draw(el, [{
      type: "bar", x: ["needed", "available"], y: [data.tokens_needed / 1e12, data.tokens_available / 1e12],
      marker: {color: [data.tokens_needed > data.tokens_available ? "#c00" : "#3366cc", "#109618"]},
      text: [num(data.tokens_needed), num(data.tokens_available)], textposition: "outside",
      hovertemplate: "%{y:.4g}T tokens<extra>%{x}</extra>", cliponaxis: false,
    }], {
      title: {text: `Data: ${num(data.epochs)} epochs of the available tokens`},
      yaxis: {title: {text: "trillion tokens"}, rangemode: "tozero"},
      annotations: [{xref: "paper", yref: "paper", x: 0, y: -0.16, showarrow: false,
                     xanchor: "left", yanchor: "top", align: "left",
                     text: wrap("available: " + data.source, 80), font: {size: 10}}],
      margin: {l: 60, r: 20, t: 40, b: 80},
    });
  }

  function grid(el, rows, panels, title) {
    /* Small bar charts side by side: panels = [{title, values, fmt}] over rows' hardware. */
    const n = panels.length, cols = Math.min(3, n), nrows = Math.ceil(n / cols);
    const names = rows.map((r) => r.hardware);
    const traces = [], layout = {grid: {rows: nrows, columns: cols, pattern: "independent",
                                        xgap: 0.12, ygap: 0.35},
                                 showlegend: false, annotations: [], title: {text: title},
                                 margin: {l: 60, r: 20, t: 60, b: 70}};
    panels.forEach((p, i) => {
      const ax = i === 0 ? "" : String(i + 1);
      traces.push({type: "bar", x: names, y: p.values, xaxis: "x" + ax, yaxis: "y" + ax,
                   marker: {color: COLORS[i % COLORS.length]},
                   hovertemplate: "%{y:.4g}<extra>" + p.title + "</extra>"});
      layout["xaxis" + ax] = {tickangle: -40, tickfont: {size: 10}};
      layout["yaxis" + ax] = {title: {text: p.title, font: {size: 11}}, rangemode: "tozero"};
    });
    return draw(el, traces, layout);
  }

  function compareChart(el, rows) {
    const ok = rows.filter((r) => r.ok);
    return grid(el, ok, [
      {title: "tok/s per device", values: ok.map((r) => r.step.tokens_per_s / r.n_devices)},
      {title: "days", values: ok.map((r) => r.footprint.duration_s / DAY)},
      {title: "MWh", values: ok.map((r) => energyMWh(r.footprint))},
      {title: "tCO2e", values: ok.map((r) => co2Tonnes(r.footprint))},
      {title: "USD", values: ok.map((r) => trainCost(r.footprint).usd)},
      {title: "MFU", values: ok.map((r) => r.step.mfu)},
    ], "The same run on each accelerator (each with its best layout)");
  }

  const perM = (x) => (x === null || x === undefined ? null : x * 1e6);

  // Cost and energy per token at the offered load when one is given (devices are paid for
  // and draw idle power between requests), else at full load.
  function atLoad(p) {
    return p.load && p.load.ttft_s !== null ? p.load : null;
  }

  function serveCostCard(p) {
    const l = atLoad(p);
    const src = l || p;
    const full = l ? ` · ${usd(perM(p.cost_usd_per_output_token))} at full load` : "";
    return {key: "cost", label: "$ per M output tokens", value: usd(perM(src.cost_usd_per_output_token)),
            sub: `input ${usd(perM(src.cost_usd_per_input_token))} per M (${p.price_basis || "–"})` +
                 (l ? ` · at ${num(l.requests_per_s)} req/s` : "") + full};
  }

  function serveEnergyCard(p) {
    const l = atLoad(p);
    const src = l || p;
    return {key: "energy", label: "Energy", value: num(src.energy_j_per_token) + " J/token",
            sub: `${num(src.energy_j_per_request === null ? null : src.energy_j_per_request / 3600)} Wh per request · ` +
                 `${num(src.device_power_w)} W per device` +
                 (l ? ` · at ${num(l.requests_per_s)} req/s (${num(p.energy_j_per_token)} at full load)` : "")};
  }

  function serveCards(p) {
    const m = p.memory;
    return [
      {key: "layout", label: "Deployment", value: `tp ${p.tp} · pp ${p.pp} · dp ${p.dp}`,
       sub: `${p.n_devices} devices, batch ${p.batch}, ${p.precision} weights, ${p.kv_precision} KV`},
      {key: "ttft", label: "Time to first token", value: num(p.ttft_s * 1e3) + " ms",
       sub: p.load && p.load.ttft_s !== null
         ? `prompt ${p.prompt} tokens · at ${num(p.load.requests_per_s)} req/s: ` +
           `${num(p.load.ttft_s * 1e3)} ms (queue ${num(p.load.queue_wait_s * 1e3)} ms, ` +
           `${pct(p.load.utilization)} busy)`
         : `prompt ${p.prompt} tokens`},
      {key: "tpot", label: "Time per output token", value: num(p.tpot_s * 1e3) + " ms",
       sub: `inter-token latency ${num(p.itl_s * 1e3)} ms` + (p.speculative_tokens
         ? ` · speculative: ${p.speculative_tokens} drafted by ${p.draft}, ${num(p.accepted_tokens)} emitted per step`
         : "") + (p.host_bound
         ? ` · host-bound: the engine's ${num(p.decode_host_s * 1e3)} ms of host work per ` +
           `step outlasts the devices' ${num(p.decode_step.step_s * 1e3)} ms`
         : "")},
      {key: "throughput", label: "Throughput", value: num(p.decode_tokens_per_s) + " tok/s",
       sub: `${num(p.tokens_per_s_per_device)} per device · ${num(p.tokens_per_s_per_user)} per user`},
      serveCostCard(p), serveEnergyCard(p),
      {key: "memory", label: "Memory per device",
       value: `${num(m.total_bytes_per_device / GIB)} / ${num(m.capacity_bytes / GIB)} GiB`,
       sub: `max batch ${num(m.max_batch)} · max context ${num(m.max_context)}`},
      {key: "feasible", label: "Feasible", value: p.feasible ? "yes" : "no",
       sub: (p.reasons || []).join("; ") || "fits and runs"},
    ];
  }

  function serveMemoryChart(el, m) {
    const parts = ["weights_bytes_per_device", "kv_bytes_per_device", "workspace_bytes_per_device"];
    const names = ["weights", "KV cache", "workspace"];
    const traces = parts.map((k, i) => ({type: "bar", name: names[i], x: ["per device"],
                                         y: [(m[k] || 0) / GIB], marker: {color: COLORS[i]},
                                         hovertemplate: "%{y:.2f} GiB<extra>" + names[i] + "</extra>"}));
    const cap = m.capacity_bytes / GIB;
    return draw(el, traces, {
      title: {text: "Serving memory per device (GiB)"}, barmode: "stack",
      yaxis: {title: {text: "GiB"}, range: [0, Math.max(cap, m.total_bytes_per_device / GIB) * 1.12]},
      shapes: [{type: "line", xref: "paper", x0: 0, x1: 1, y0: cap, y1: cap,
                line: {color: "#c00", dash: "dash", width: 2}}],
      annotations: [{xref: "paper", x: 1, y: cap, yanchor: "bottom", xanchor: "right",
                     text: `capacity ${cap.toFixed(0)} GiB`, showarrow: false, font: {color: "#c00"}}],
    });
  }

  const SERVE_STEP = ["gemm_s", "attention_s", "elementwise_s", "comm_s"];

  function serveCompareChart(el, rows) {
    const ok = rows.filter((r) => r.ok);
    return grid(el, ok, [
      {title: "tok/s per device", values: ok.map((r) => r.tokens_per_s_per_device)},
      {title: "TTFT ms", values: ok.map((r) => r.ttft_s * 1e3)},
      {title: "TPOT ms", values: ok.map((r) => r.tpot_s * 1e3)},
      {title: "$ / M output tokens", values: ok.map((r) => perM(r.cost_usd_per_output_token))},
      {title: "J / token", values: ok.map((r) => r.energy_j_per_token)},
      {title: "max batch at this context", values: ok.map((r) => r.memory.max_batch)},
    ], "The same deployment on each accelerator");
  }

  function hybridChart(el, h, hardware) {
    /* Tokens/s per device against context for the transformer and its hybrid of equal size,
     * each at the most sequences that fit (0 where not one does: drawn as a gap). */
    const x = h.context;
    const line = (name, ys, i) => ({type: "scatter", mode: "lines+markers", name, x,
      y: ys.map((v) => (v > 0 ? v : null)), line: {color: COLORS[i], width: 2},
      hovertemplate: "%{x:,} tokens: %{y:,.0f} tok/s<extra>" + name + "</extra>"});
    const tokens = (n) => (n >= 1024 ? `${n / 1024}k` : String(n));  // contexts are 2^k
    const where = h.cheaper_from === null ? "never cheaper at these contexts"
      : `cheaper per token from ${tokens(h.cheaper_from)} tokens`;
    const last = h.throughput_ratio[h.throughput_ratio.length - 1];
    const by = last === null ? "" : `, ${num(last, 2)}× the tokens/s at ${tokens(x[x.length - 1])}`;
    return draw(el, [
      line(`transformer (${num(h.transformer_params)} params)`, h.transformer_tokens_per_s_per_device, 0),
      line(`hybrid, ${h.hybrid_attention_layers} of ${h.hybrid_layers} layers attention ` +
           `(${num(h.hybrid_params)})`, h.hybrid_tokens_per_s_per_device, 1),
    ], {
      title: {text: wrap(`A state-space hybrid of equal size on ` +
                         (h.n_devices > 1 ? `${h.n_devices} × ${hardware}` : `one ${hardware}`) +
                         (h.precision ? ` (${h.precision})` : "") + `: ${where}${by}`, 80)},
      xaxis: {title: {text: "context (tokens)"}, type: "log", tickvals: x, ticktext: x.map(tokens)},
      yaxis: {title: {text: "decode tok/s per device (most sequences that fit)"}, type: "log",
              dtick: 1, tickformat: "~s"},
      legend: {orientation: "h", y: -0.25}, margin: {l: 70, r: 20, t: 60, b: 90},
    });
  }

  function spreadLabels(all, range, size) {
    /* Plotly annotations naming each point to its right. A label moves up (lowest point
     * first) until its box covers neither another point nor a label already placed, and then
     * keeps a thin line to its point. Screen positions are estimated from the plot's log
     * ranges (``range``: [[x0, x1], [y0, y1]] in decades) over ``size`` ([width, height] px). */
    const lx = all.map((q) => Math.log10(q.x)), ly = all.map((q) => Math.log10(q.y));
    const px = (v, r, n) => (v - r[0]) / Math.max(r[1] - r[0], 0.5) * n;
    const sx = lx.map((v) => px(v, range[0], size[0])), sy = ly.map((v) => px(v, range[1], size[1]));
    const boxes = [];
    const covers = (i, x0, x1, y) =>
      sx.some((x, j) => j !== i && x > x0 - 6 && x < x1 && Math.abs(sy[j] - y) < 12) ||
      boxes.some(([b0, b1, by]) => x0 < b1 && b0 < x1 && Math.abs(by - y) < 12);
    return all.map((_, i) => i).sort((a, b) => sy[a] - sy[b]).map((i) => {
      const x0 = sx[i] + 8, x1 = x0 + 6 * all[i].name.length;
      let y = sy[i];
      for (let k = 0; k < 40 && covers(i, x0, x1, y); k++) y += 4;
      boxes.push([x0, x1, y]);
      const dy = y - sy[i];
      return {x: lx[i], y: ly[i], xref: "x", yref: "y", text: all[i].name, showarrow: dy > 1,
              ax: 8, ay: -dy, arrowwidth: 0.6, arrowhead: 0, arrowcolor: "#888",
              xanchor: "left", xshift: dy > 1 ? 0 : 7, font: {size: 10, color: "#333"}};
    });
  }

  function rooflineChart(el, ops) {
    /* Each matrix multiply of a decode step and of a prefill at its arithmetic intensity and
     * the FLOP/s it reaches (FLOP over its modelled time), under the device's two roofs. */
    const d = ops.decode, p = ops.prefill;
    const pts = (t) => t.gemms.map((g) => ({x: g.intensity, y: g.flop / g.time_s, name: g.name,
                                            us: g.time_s * 1e6, bound: g.bound})).concat(
      t.attention.intensity ? [{x: t.attention.intensity, y: t.attention.flop / t.attention.time_s,
                                name: "attention", us: t.attention.time_s * 1e6,
                                bound: t.attention.intensity < t.ridge_flop_per_byte ? "memory" : "compute"}] : []);
    const all = pts(d).concat(pts(p));
    const lo = Math.min(...all.map((q) => q.x)) / 3, hi = Math.max(...all.map((q) => q.x)) * 3;
    const xs = [lo, d.ridge_flop_per_byte, hi];
    const roof = xs.map((x) => Math.min(d.compute_roof_flop_per_s, x * d.memory_roof_bytes_per_s));
    const scatter = (name, q, i) => ({type: "scatter", mode: "markers", name,
      x: q.map((v) => v.x), y: q.map((v) => v.y), text: q.map((v) => v.name),
      marker: {size: 10, color: COLORS[i]},
      customdata: q.map((v) => [v.us, v.bound]),
      hovertemplate: "%{text}: %{x:.3g} FLOP/B, %{y:.3s}FLOP/s, %{customdata[0]:.3g} us " +
                     "(%{customdata[1]}-bound)<extra>" + name + "</extra>"});
    return draw(el, [
      {type: "scatter", mode: "lines", name: "roof (achievable)", x: xs, y: roof,
       line: {color: "#444", width: 2}, hoverinfo: "skip"},
      scatter(`decode step (${num(d.step_s * 1e3)} ms)`, pts(d), 0),
      scatter(`prefill (${num(p.step_s * 1e3)} ms)`, pts(p), 1),
    ], {
      title: {text: `Roofline of the matrix multiplies and attention, one device (ridge ${num(d.ridge_flop_per_byte)} FLOP/B)`},
      xaxis: {title: {text: "arithmetic intensity (FLOP per byte)"}, type: "log"},
      yaxis: {title: {text: "FLOP/s reached"}, type: "log", tickformat: "~s"},
      legend: {orientation: "h", y: -0.25}, margin: {l: 70, r: 20, t: 50, b: 90},
      annotations: (() => {
        const ys = all.map((q) => q.y).concat(roof);
        const range = [[Math.log10(lo), Math.log10(hi)],
                       [Math.log10(Math.min(...ys)), Math.log10(Math.max(...ys)) + 0.05]];
        const size = [Math.max((el.clientWidth || 900) - 90, 300), 260];
        return spreadLabels(all, range, size);
      })(),
    });
  }

  root.ScalewallCharts = {
    num, usd, pct, trainCards, serveCards, memoryChart, stepChart, costChart, dataChart,
    compareChart, serveMemoryChart, serveCompareChart, hybridChart, rooflineChart, grid, draw, trainCost,
    energyMWh, co2Tonnes,
    TRAIN_STEP, SERVE_STEP, COLORS, BASE, CONFIG,
  };
})(window);
