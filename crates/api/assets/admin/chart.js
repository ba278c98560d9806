// A tiny SVG chart library for the dashboard (no dependency): bars over
// time, lines per series, and grouped bars. Text goes in with textContent,
// never as markup.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 640, H = 220, PAD = { l: 44, r: 10, t: 10, b: 34 };
  const PALETTE = ["#2f6fdf", "#e0752d", "#2a9d5b", "#b8336a", "#7d5ba6", "#c9a227", "#4a9bb5", "#777"];

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, value, attrs) {
    const t = el("text", Object.assign({ x, y, "font-size": 10, fill: "#555" }, attrs || {}), parent);
    t.textContent = value;
    return t;
  }

  function svg(container, label) {
    container.replaceChildren();
    const root = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "chart" });
    container.appendChild(root);
    return root;
  }

  function niceMax(max) {
    if (max <= 0) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(max)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= max) return step * power;
    return 10 * power;
  }

  function yAxis(root, max, format) {
    const innerH = H - PAD.t - PAD.b;
    for (let i = 0; i <= 4; i++) {
      const y = PAD.t + innerH - (innerH * i) / 4;
      el("line", { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, stroke: "#e5e5e5" }, root);
      text(root, PAD.l - 4, y + 3, format((max * i) / 4), { "text-anchor": "end" });
    }
  }

  function legend(container, names) {
    const list = document.createElement("div");
    list.className = "legend";
    names.forEach((name, i) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = PALETTE[i % PALETTE.length];
      item.append(swatch, name);
      list.appendChild(item);
    });
    container.appendChild(list);
  }

  const short = (v) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k` : `${+v.toFixed(2)}`);

  // points: [{label, value}] in order; one bar each.
  function bars(container, points, label) {
    const root = svg(container, label);
    const max = niceMax(Math.max(0, ...points.map((p) => p.value)));
    yAxis(root, max, short);
    const innerW = W - PAD.l - PAD.r, innerH = H - PAD.t - PAD.b;
    const step = innerW / Math.max(points.length, 1);
    const every = Math.ceil(points.length / 8);
    points.forEach((p, i) => {
      const h = (innerH * p.value) / max;
      const x = PAD.l + i * step;
      const bar = el("rect", { x: x + step * 0.1, y: PAD.t + innerH - h, width: Math.max(step * 0.8, 1), height: h, fill: PALETTE[0] }, root);
      el("title", {}, bar).textContent = `${p.label}: ${p.value}`;
      if (i % every === 0) text(root, x + step / 2, H - PAD.b + 14, p.label, { "text-anchor": "middle" });
    });
  }

  // series: [{name, points: [{x: epoch ms, y}]}]; one line (and dots) each.
  function lines(container, series, label) {
    const root = svg(container, label);
    const all = series.flatMap((s) => s.points);
    const minX = Math.min(...all.map((p) => p.x)), maxX = Math.max(...all.map((p) => p.x));
    const max = niceMax(Math.max(0, ...all.map((p) => p.y)));
    yAxis(root, max, (v) => `${short(v)}s`);
    const innerW = W - PAD.l - PAD.r, innerH = H - PAD.t - PAD.b;
    const sx = (x) => PAD.l + (maxX > minX ? ((x - minX) / (maxX - minX)) * innerW : innerW / 2);
    const sy = (y) => PAD.t + innerH - (innerH * y) / max;
    series.forEach((s, i) => {
      const colour = PALETTE[i % PALETTE.length];
      const pts = s.points.slice().sort((a, b) => a.x - b.x);
      el("polyline", { points: pts.map((p) => `${sx(p.x)},${sy(p.y)}`).join(" "), fill: "none", stroke: colour, "stroke-width": 1.5 }, root);
      pts.forEach((p) => {
        const dot = el("circle", { cx: sx(p.x), cy: sy(p.y), r: 2.5, fill: colour }, root);
        el("title", {}, dot).textContent = `${s.name}: ${p.y.toFixed(3)} s`;
      });
    });
    if (all.length) {
      const fmt = (x) => new Date(x).toISOString().slice(5, 16).replace("T", " ");
      text(root, PAD.l, H - PAD.b + 14, fmt(minX));
      text(root, W - PAD.r, H - PAD.b + 14, fmt(maxX), { "text-anchor": "end" });
    }
    legend(container, series.map((s) => s.name));
  }

  // groups: [{label, values: [number per series]}], names: series names.
  function groupedBars(container, groups, names, label, showLegend = true) {
    const root = svg(container, label);
    const max = niceMax(Math.max(0, ...groups.flatMap((g) => g.values)));
    yAxis(root, max, short);
    const innerW = W - PAD.l - PAD.r, innerH = H - PAD.t - PAD.b;
    const step = innerW / Math.max(groups.length, 1);
    const width = (step * 0.8) / Math.max(names.length, 1);
    groups.forEach((g, i) => {
      const x0 = PAD.l + i * step + step * 0.1;
      g.values.forEach((v, j) => {
        const h = (innerH * v) / max;
        const bar = el("rect", { x: x0 + j * width, y: PAD.t + innerH - h, width: Math.max(width - 1, 1), height: h, fill: PALETTE[j % PALETTE.length] }, root);
        el("title", {}, bar).textContent = `${names[j]} ${g.label}: ${v.toFixed(3)}`;
      });
      text(root, PAD.l + i * step + step / 2, H - PAD.b + 14, g.label, { "text-anchor": "middle" });
    });
    if (showLegend) legend(container, names);
  }

  return { bars, lines, groupedBars };
})();
