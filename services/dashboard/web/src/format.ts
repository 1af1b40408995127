// How numbers read on the page: one place, so a rate or a duration looks the same in every panel.

export function dash(v: number | string | null | undefined): string {
  return v === null || v === undefined ? "–" : String(v);
}

export function rate(v: number): string {
  if (v >= 1000) return `${(v / 1000).toFixed(1)}k`;
  if (v >= 10 || Number.isInteger(v)) return v.toFixed(0);
  return v.toFixed(1);
}

export function duration(ms: number | null): string {
  if (ms === null) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m ${String(sec).padStart(2, "0")}s`;
}

export function micros(us: number | null): string {
  if (us === null) return "–";
  if (us >= 1000) return `${(us / 1000).toFixed(us >= 10000 ? 0 : 1)} ms`;
  return `${Math.round(us)} µs`;
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function clock(t: number): string {
  const d = new Date(t);
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The colour family of an endpoint state, shared by the table and the topology. */
export function stateClass(state: string): "ok" | "warn" | "bad" | "off" {
  switch (state) {
    case "ready":
    case "up":
      return "ok";
    case "starting":
    case "restarting":
      return "warn";
    case "dead":
    case "failed":
    case "down":
      return "bad";
    default:
      return "off";
  }
}
