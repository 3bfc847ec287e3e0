// Lag (left axis, seconds) and rows/s (right axis) over the last hour, as an inline SVG.
import { h } from "./dom.js";

const WIDTH = 900;
const HEIGHT = 240;
const PAD = { left: 52, right: 60, top: 12, bottom: 26 };
const HOUR_MS = 3600_000;

// A round top for an axis: 1, 2 or 5 times a power of ten, at least `value`.
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((top) => top >= value);
}

function path(points, className) {
  // Gaps (a paused task, a sample missing) break the line instead of joining far points.
  let d = "";
  let previous = null;
  for (const [x, y, at] of points) {
    d += previous !== null && at - previous <= 30_000 ? ` L${x.toFixed(1)},${y.toFixed(1)}` : ` M${x.toFixed(1)},${y.toFixed(1)}`;
    previous = at;
  }
  return h("svg:path", { d: d.trim() || "M0,0", class: className });
}

export function chart(samples, now = Date.now()) {
  const start = now - HOUR_MS;
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const recent = samples.filter((sample) => sample.time >= start);
  const lagTop = niceMax(Math.max(0, ...recent.map((sample) => sample.lag_seconds ?? 0)));
  const rateTop = niceMax(Math.max(0, ...recent.map((sample) => sample.rows_per_second)));
  const x = (at) => PAD.left + ((at - start) / HOUR_MS) * innerW;
  const y = (value, top) => PAD.top + innerH - (value / top) * innerH;

  const svg = h("svg:svg", {
    class: "chart",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": "lag and rows per second over the last hour",
    "data-samples": recent.length,
  });
  for (let step = 0; step <= 4; step += 1) {
    const gy = PAD.top + (innerH * step) / 4;
    svg.append(h("svg:line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: gy, y2: gy, class: "grid" }));
    const fraction = 1 - step / 4;
    svg.append(h("svg:text", { x: PAD.left - 6, y: gy + 4, "text-anchor": "end" }, `${+(lagTop * fraction).toPrecision(3)} s`));
    svg.append(h("svg:text", { x: WIDTH - PAD.right + 6, y: gy + 4 }, `${+(rateTop * fraction).toPrecision(3)}/s`));
  }
  for (let minutes = 60; minutes >= 0; minutes -= 15) {
    const gx = x(now - minutes * 60_000);
    svg.append(h("svg:line", { x1: gx, x2: gx, y1: PAD.top, y2: PAD.top + innerH, class: "grid" }));
    svg.append(h("svg:text", { x: gx, y: HEIGHT - 8, "text-anchor": "middle" }, minutes ? `-${minutes} min` : "now"));
  }
  svg.append(h("svg:line", { x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: PAD.top + innerH, class: "axis" }));
  svg.append(h("svg:line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: PAD.top + innerH, y2: PAD.top + innerH, class: "axis" }));
  const withLag = recent.filter((sample) => sample.lag_seconds !== null);
  svg.append(path(recent.map((s) => [x(s.time), y(s.rows_per_second, rateTop), s.time]), "rate"));
  svg.append(path(withLag.map((s) => [x(s.time), y(s.lag_seconds, lagTop), s.time]), "lag"));
  return h(
    "div",
    {},
    h("div", { class: "legend" }, h("span", {}, h("i", { class: "lag" }), "lag (s)"), h("span", {}, h("i", { class: "rate" }), "rows/s")),
    svg,
  );
}
