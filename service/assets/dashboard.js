// The live dashboard of `ballast serve`. The page embeds the state it was served with
// (#initial-state); /v1/stream (server-sent events) brings what happens next. `?live=0` turns
// the stream off (a static view, and what the headless browser test loads).
"use strict";

const MODE_COLORS = ["#e3f1e8", "#fdf0d5", "#f9dcd9", "#eadcf7", "#dce7f9"];
const LINE_COLOR = "#2456a6";
const state = JSON.parse(document.getElementById("initial-state").textContent);
const modeColor = {};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

function svgEl(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function assignModeColors() {
  for (const threat of state.threats) {
    threat.modes.forEach((mode, i) => { modeColor[mode] = MODE_COLORS[i % MODE_COLORS.length]; });
  }
}

function renderStatus() {
  const s = state.status;
  const health = document.getElementById("health");
  health.textContent = s.health.status;
  health.className = "badge " + s.health.status;
  health.title = s.health.reasons.join("\n");
  const threat = state.threats[0];
  const mode = document.getElementById("mode");
  mode.hidden = !threat;
  if (threat) {
    mode.textContent = threat.mode + " · " + threat.threatIndex.toFixed(1);
    mode.className = "badge " + threat.mode;
  }
  document.getElementById("bundle").textContent = s.bundle
    ? "bundle #" + s.bundle.serial + " · " + s.bundle.versions.map((v) => v.name + " " + v.version).join(", ")
    : "";
  const kpis = [
    ["events", s.counts.events], ["directives", s.counts.directives], ["held back", s.counts.held],
    ["events with faults", s.counts.faults], ["requests in flight", s.in_flight],
    ["late events", s.engine.late || 0], ["duplicates", s.engine.duplicates || 0], ["telemetry gaps", s.engine.gaps || 0],
  ];
  const box = document.getElementById("kpis");
  box.replaceChildren(...kpis.map(([name, value]) =>
    el("div", { class: "kpi", "data-kpi": name }, el("div", { class: "value" }, String(value)), el("div", { class: "name" }, name))));
}

function renderThreat() {
  const svg = document.getElementById("threat-chart");
  svg.replaceChildren();
  const threat = state.threats[0];
  document.getElementById("threat-name").textContent = threat ? threat.threat : "(no threat document)";
  const points = state.threat.filter((p) => threat && p.threat === threat.threat);
  const W = 800, H = 240, L = 40, R = 10, T = 10, B = 24;
  const y = (v) => T + (H - T - B) * (1 - v / 100);
  for (const v of [0, 25, 50, 75, 100]) {
    svg.append(svgEl("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e4e8ee" }));
    const label = svgEl("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6475" });
    label.textContent = String(v);
    svg.append(label);
  }
  if (points.length === 0) {
    const note = svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#8a93a3" });
    note.textContent = "no ThreatIndex sample yet";
    svg.append(note);
    return;
  }
  const t0 = points[0].t, t1 = Math.max(points[points.length - 1].t, t0 + 1);
  const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
  // mode bands: each sample's mode lasts until the next sample
  points.forEach((p, i) => {
    const next = i + 1 < points.length ? points[i + 1].t : t1;
    const band = svgEl("rect", { x: x(p.t), y: T, width: Math.max(x(next) - x(p.t), 1), height: H - T - B,
      fill: modeColor[p.mode] || MODE_COLORS[0], "data-mode": p.mode });
    svg.insertBefore(band, svg.firstChild);
  });
  const path = points.map((p, i) => (i ? "L" : "M") + x(p.t).toFixed(1) + "," + y(p.index).toFixed(1)).join(" ");
  svg.append(svgEl("path", { d: path, fill: "none", stroke: LINE_COLOR, "stroke-width": 2 }));
  for (const p of points.length <= 2 ? points : [points[points.length - 1]]) {
    svg.append(svgEl("circle", { cx: x(p.t), cy: y(p.index), r: 3, fill: LINE_COLOR }));
  }
  const start = svgEl("text", { x: L, y: H - 6, "font-size": 11, fill: "#5b6475" });
  start.textContent = points[0].time;
  const end = svgEl("text", { x: W - R, y: H - 6, "font-size": 11, fill: "#5b6475", "text-anchor": "end" });
  end.textContent = points[points.length - 1].time;
  svg.append(start, end);
  const legend = document.getElementById("legend");
  legend.replaceChildren(...threat.modes.map((m) => {
    const swatch = el("i");
    swatch.style.background = modeColor[m];
    return el("span", {}, swatch, m);
  }));
}

function rationaleTable(rows) {
  const table = el("table", { class: "rationale" }, el("tr", {}, el("th", {}, "check"), el("th", {}, "value"), el("th", {}, "inputs")));
  for (const row of rows) {
    const inputs = Object.entries(row.inputs || {}).map(([k, v]) => k + "=" + JSON.stringify(v)).join(", ");
    table.append(el("tr", {}, el("td", {}, row.check), el("td", {}, JSON.stringify(row.value)), el("td", {}, inputs)));
  }
  return table;
}

function directiveItem(d, fresh) {
  const why = el("details", { class: "why" }, el("summary", {}, "rationale"), rationaleTable(d.rationale || []));
  return el("li", { class: fresh ? "new" : "", "data-directive": d.directive_id },
    el("span", { class: "action" }, d.action), " ", d.targets.join(", "), " — ", d.reason, " ",
    el("span", { class: "rule" }, "[" + d.policy + "/" + d.rule + ", " + d.impact + "]"), why);
}

function renderDirectives() {
  const list = document.getElementById("directives");
  list.replaceChildren(...state.directives.slice().reverse().map((d) => directiveItem(d, false)));
  document.getElementById("no-directives").hidden = state.directives.length > 0;
}

function renderReports() {
  const list = document.getElementById("reports");
  list.replaceChildren(...state.reports.map((r) => el("li", {}, el("a", { href: r.url }, r.name))));
  document.getElementById("reports-panel").hidden = state.reports.length === 0;
}

function announce(d) {
  const banner = document.getElementById("banner");
  banner.textContent = "New directive: " + d.action + " " + d.targets.join(", ") + " — " + d.reason;
  banner.hidden = false;
}

function follow() {
  const source = new EventSource("/v1/stream?since=" + state.seq);
  source.addEventListener("directive", (e) => {
    const d = JSON.parse(e.data);
    state.directives.push(d);
    state.directives = state.directives.slice(-50);
    const list = document.getElementById("directives");
    list.prepend(directiveItem(d, true));
    while (list.children.length > 50) list.lastChild.remove();
    document.getElementById("no-directives").hidden = true;
    announce(d);
  });
  source.addEventListener("threat", (e) => {
    const p = JSON.parse(e.data);
    state.threat.push(p);
    state.threat = state.threat.slice(-500);
    const threat = state.threats.find((t) => t.threat === p.threat);
    if (threat) { threat.threatIndex = p.index; threat.mode = p.mode; }
    renderThreat();
    renderStatus();
  });
  source.addEventListener("status", (e) => {
    state.status = JSON.parse(e.data);
    renderStatus();
  });
}

assignModeColors();
renderStatus();
renderThreat();
renderDirectives();
renderReports();
if (state.directives.length > 0) announce(state.directives[state.directives.length - 1]);
if (new URLSearchParams(location.search).get("live") !== "0") follow();
