// pino JSON logs to stdout. Every line carries svc and endpoint; message paths add
// msgType and reqId so one request can be followed across services with a grep.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(svc: string, endpoint?: string): Logger {
  return pino({
    level: process.env.MK_LOG_LEVEL ?? "info",
    base: endpoint ? { svc, endpoint, pid: process.pid } : { svc, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
