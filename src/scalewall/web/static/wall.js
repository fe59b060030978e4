/* scalewall wall view: scenario switch, fan chart of the largest feasible run by year, and the
 * probability that each constraint binds. Draws what /api/wall/project returns. */
(function (root) {
  "use strict";
  const C = root.ScalewallCharts;
  function fan(el, w) {
    const years = w.years.map((y) => y.year), q = (k) => w.years.map((y) => y.feasible_flop[k]);
    const traces = [
      {x: years, y: q("p90"), mode: "lines", line: {width: 0}, name: "p90", showlegend: false, hoverinfo: "skip"},
      {x: years, y: q("p10"), mode: "lines", line: {width: 0}, fill: "tonexty",
       fillcolor: "rgba(51,102,204,0.25)", name: "feasible p10-p90"},
      {x: years, y: q("median"), mode: "lines+markers", line: {color: "#3366cc", width: 3}, name: "feasible median"},
      {x: years, y: w.years.map((y) => y.trend_flop), mode: "lines", line: {color: "#222", dash: "dash"}, name: "trend"},
    ];
    Object.keys(w.years[0].constraints).forEach((k, i) => traces.push({
      x: years, y: w.years.map((y) => y.constraints[k].median), mode: "lines",
      line: {color: C.COLORS[(i + 1) % C.COLORS.length], width: 1.5, dash: "dot"}, name: k + " limit (median)"}));
    return C.draw(el, traces, {title: {text: `Largest feasible training run (${w.scenario}, ${C.num(w.draws)} draws)`},
                               yaxis: {type: "log", title: {text: "training FLOP"}, exponentformat: "power"},
                               legend: {orientation: "h", y: -0.15}});
  }
  function binding(el, w) {
    const years = w.years.map((y) => y.year);
    const traces = Object.keys(w.years[0].binding).map((k, i) => ({
      x: years, y: w.years.map((y) => y.binding[k]), stackgroup: "b", name: k,
      line: {color: C.COLORS[(i + 1) % C.COLORS.length]}}));
    return C.draw(el, traces, {title: {text: "Which constraint binds (probability)"},
                               yaxis: {range: [0, 1], title: {text: "probability"}},
                               legend: {orientation: "h", y: -0.15}});
  }
  function draw(body, w) {
    body.replaceChildren();
    const a = document.createElement("div"), b = document.createElement("div"), p = document.createElement("p");
    a.className = "chart"; a.id = "chart-wall-fan"; b.className = "chart"; b.id = "chart-wall-binding";
    p.className = "hint";
    p.textContent = "First year each median limit falls below the trend: " + Object.entries(w.first_year_below_trend)
      .map(([k, v]) => `${k} ${v === null ? "never" : v}`).join(", ");
    const grid = document.createElement("div"); grid.className = "charts"; grid.append(a, b);
    body.append(grid, p);
    return fan(a, w).then(() => binding(b, w));
  }
  let controls = null;
  async function setup() {
    const box = document.getElementById("wall-controls");
    const r = await fetch("/api/wall/scenarios").then((x) => x.json());
    const sel = document.createElement("select"); sel.name = "scenario"; sel.id = "scenario";
    for (const s of r.scenarios) { const o = document.createElement("option"); o.value = s; o.textContent = s; sel.appendChild(o); }
    const draws = document.createElement("input"); draws.name = "draws"; draws.type = "number"; draws.min = "1000"; draws.value = "20000";
    const l1 = document.createElement("label"), l2 = document.createElement("label");
    l1.append("Scenario", sel); l2.append("Monte Carlo draws", draws);
    box.replaceChildren(l1, l2); box.className = "";
    const p = new URLSearchParams(location.search);
    if (p.get("scenario")) sel.value = p.get("scenario");
    if (p.get("draws")) draws.value = p.get("draws");
    sel.addEventListener("change", () => document.getElementById("go").click());
    controls = {sel, draws};
  }
  async function run(form, post) {
    if (!controls) await setup();
    const w = await post("/api/wall/project", {scenario: controls.sel.value, draws: parseInt(controls.draws.value, 10) || 0});
    document.getElementById("view-wall").dataset.drawn = "1";
    await draw(document.getElementById("wall-body"), w);
  }
  root.ScalewallWall = {run, draw, setup};
})(window);
