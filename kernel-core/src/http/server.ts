// kernel-core's HTTP face (fastify): liveness, readiness, Prometheus metrics, and the
// endpoint table as JSON for tools and the dashboard.
import Fastify, { type FastifyInstance } from "fastify";
import type { EndpointInfo } from "#abi";
import type { SystemTable } from "#base/system-table.ts";
import type { KernelMetrics } from "../metrics/metrics.ts";
import type { EndpointTable } from "../table/endpoint-table.ts";

/** What the HTTP face reads of the kernel (Kernel has it): a port, so http/ imports nothing above it. */
export interface HttpKernel {
  readonly boot: string;
  readonly priv: SystemTable;
  readonly table: Pick<EndpointTable, "get">;
  readonly metrics: Pick<KernelMetrics, "registry">;
  endpointRows(): EndpointInfo[];
  hardwareAnswers(): Promise<boolean>;
}

export function buildHttp(kernel: HttpKernel, isConnected: () => boolean): FastifyInstance {
  const app = Fastify({ logger: false });
  // Both name this kernel (pid and boot), so a tool can tell its own kernel from another's.
  app.get("/healthz", async () => ({ status: "ok", pid: process.pid, boot: kernel.boot }));
  // Ready: connected to NATS, and the hardware bus answers now (not: answered once).
  app.get("/readyz", async (_req, reply) => {
    const nats = isConnected();
    const hardware = nats && (await kernel.hardwareAnswers());
    const ready = nats && hardware;
    reply.code(ready ? 200 : 503);
    return { ready, nats, hardware, pid: process.pid, boot: kernel.boot };
  });
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", kernel.metrics.registry.contentType);
    return kernel.metrics.registry.metrics();
  });
  app.get("/endpoints", async () => ({ endpoints: kernel.endpointRows() }));
  // A container's healthcheck: 200 when the live incarnation of :label is ready (and, with
  // ?host=, runs on that host, so the check proves this container serves, not an older
  // incarnation elsewhere); 503 when it is not (yet); 404 for a label not in the table.
  app.get<{ Params: { label: string }; Querystring: { host?: string } }>("/endpoints/:label/ready", async (req, reply) => {
    const { label } = req.params;
    const host = typeof req.query.host === "string" ? req.query.host : undefined;
    if (!kernel.priv.services.has(label)) {
      reply.code(404);
      return { ready: false, error: `no service ${label} in the privilege table` };
    }
    const e = kernel.table.get(label);
    const ready = !!e && e.state === "ready" && (host === undefined || e.host === host);
    reply.code(ready ? 200 : 503);
    return { ready, endpoint: e?.key ?? null, state: e?.state ?? null, host: e?.host ?? null };
  });
  return app;
}
