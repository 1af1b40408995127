// kernel-core's HTTP face (fastify): liveness, readiness, Prometheus metrics, and the
// endpoint table as JSON for tools and the dashboard.
import Fastify, { type FastifyInstance } from "fastify";
import type { Kernel } from "../kernel.ts";

export function buildHttp(kernel: Kernel, isConnected: () => boolean): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const ready = isConnected() && kernel.hardwareReady;
    reply.code(ready ? 200 : 503);
    return { ready, nats: isConnected(), hardware: kernel.hardwareReady };
  });
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", kernel.metrics.registry.contentType);
    return kernel.metrics.registry.metrics();
  });
  app.get("/endpoints", async () => ({ endpoints: kernel.endpointRows() }));
  return app;
}
