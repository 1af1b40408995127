// The page's requests to the dashboard: relative URLs (the page may be served under any
// prefix, base "./") and one shape of answer, so every panel reports results the same way.

import { parseApiError } from "./parse.ts";

export type Outcome = { ok: true; body: Record<string, unknown> } | { ok: false; status: number; code: string; message: string };

export async function getJson(path: string): Promise<unknown> {
  const res = await fetch(path, { headers: { accept: "application/json" } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json() as Promise<unknown>;
}

export async function post(path: string, token: string | null, body?: unknown): Promise<Outcome> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(path, { method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    return { ok: false, status: 0, code: "ECONNREFUSED", message: err instanceof Error ? err.message : String(err) };
  }
  let parsed: unknown = null;
  try {
    parsed = await res.json();
  } catch {
    // A proxy's HTML error page or an empty body: the status alone must do.
  }
  if (res.ok) {
    const b = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
    return { ok: true, body: b };
  }
  const e = parseApiError(parsed);
  return { ok: false, status: res.status, code: e?.code ?? `HTTP ${res.status}`, message: e?.message ?? res.statusText };
}

/** One line for the message area; a 401 names the token, the usual cause. */
export function describeFailure(o: Extract<Outcome, { ok: false }>): string {
  const base = `${o.code}: ${o.message}`;
  if (o.status === 401)
    return `${base} — the token is missing or wrong (open the URL with the token the dashboard printed at start-up: mkctl up's last line, or docker compose logs dashboard)`;
  return base;
}
