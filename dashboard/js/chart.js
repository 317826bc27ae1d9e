// Time-series charts with uPlot (bundled from npm at build time into vendor/).
// Colours come from the stylesheet's custom properties, so dark mode follows
// the system setting; the chart is redrawn when that setting changes.
import uPlot from "../vendor/uPlot.esm.js";

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

const SERIES = [
  { key: "received", label: "Received", color: "--c-received" },
  { key: "delivered", label: "Delivered", color: "--c-delivered" },
  { key: "failed", label: "Failed", color: "--c-failed" },
];

function toData(buckets) {
  return [buckets.map((b) => Date.parse(b.t) / 1000), ...SERIES.map((s) => buckets.map((b) => b[s.key] ?? 0))];
}

function options(width, height, bucketSeconds) {
  const grid = { stroke: css("--line"), width: 1 };
  const axis = { stroke: css("--muted"), grid, ticks: grid, font: `12px ${css("--font")}` };
  return {
    width,
    height,
    cursor: { points: { size: 6 }, drag: { x: false, y: false } },
    legend: { show: true, live: true },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
    axes: [axis, { ...axis, size: 44, values: (_u, ticks) => ticks.map((v) => (Number.isInteger(v) ? v : "")) }],
    series: [
      { label: "Time", value: (_u, v) => (v == null ? "" : new Date(v * 1000).toLocaleString(undefined, bucketSeconds >= 86400 ? { month: "short", day: "numeric" } : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })) },
      ...SERIES.map((s) => ({
        label: s.label,
        stroke: css(s.color),
        width: 2,
        fill: s.key === "received" ? `${css(s.color)}1f` : undefined,
        points: { show: false },
        value: (_u, v) => (v == null ? "—" : String(v)),
      })),
    ],
  };
}

/** Draws `timeseries` (the stats API's answer) into `el`; returns {update, destroy}. */
export function trafficChart(el, timeseries) {
  let current = timeseries;
  let plot = null;
  const height = () => (el.clientWidth < 500 ? 180 : 220);
  const draw = () => {
    plot?.destroy();
    el.replaceChildren();
    plot = new uPlot(options(el.clientWidth, height(), current.bucket_s), toData(current.buckets), el);
  };
  draw();
  const resize = new ResizeObserver(() => plot && plot.width !== el.clientWidth && plot.setSize({ width: el.clientWidth, height: height() }));
  resize.observe(el);
  const scheme = matchMedia("(prefers-color-scheme: dark)");
  scheme.addEventListener("change", draw);
  return {
    update(next) {
      const reshape = next.bucket_s !== current.bucket_s || next.buckets.length !== current.buckets.length;
      current = next;
      if (reshape) draw();
      else plot.setData(toData(next.buckets));
    },
    destroy() {
      resize.disconnect();
      scheme.removeEventListener("change", draw);
      plot?.destroy();
    },
  };
}
