// How numbers, durations and moments read in the portal.
const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
// One formatter: `toLocaleString` with options builds a new one per call (slow on charts).
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function duration(ms) {
  const v = Number(ms);
  if (!Number.isFinite(v)) return "—";
  if (Math.abs(v) < 1000) return `${numberFormat.format(v)} ms`;
  const s = v / 1000;
  if (Math.abs(s) < 120) return `${numberFormat.format(s)} s`;
  const m = s / 60;
  if (Math.abs(m) < 120) return `${numberFormat.format(m)} min`;
  const hours = m / 60;
  if (Math.abs(hours) < 48) return `${numberFormat.format(hours)} h`;
  return `${numberFormat.format(hours / 24)} d`;
}

export const fmt = {
  number: (v) => (v === null || v === undefined || v === "" ? "—" : numberFormat.format(Number(v))),
  pct: (v) => (v === null || v === undefined ? "—" : `${numberFormat.format(Number(v) * 100)}%`),
  ms: duration,
  seconds: (s) => duration(Number(s) * 1000),
  hours: (hours) => duration(Number(hours) * 3600e3),
  datetime: (iso) => {
    if (!iso) return "—";
    const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + "Z");
    return Number.isNaN(d.getTime()) ? String(iso) : dateTimeFormat.format(d);
  },
  bytes: (v) => {
    let n = Number(v);
    if (!Number.isFinite(n)) return "—";
    for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
      if (Math.abs(n) < 1024 || unit === "TiB") return `${numberFormat.format(n)} ${unit}`;
      n /= 1024;
    }
    return String(v);
  },
  text: (v) => (v === null || v === undefined || v === "" ? "—" : String(v)),
};
