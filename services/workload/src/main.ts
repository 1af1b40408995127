// The demo workload as its own process (a user program rs keeps running).
import { runUserService } from "#libsys";
import { service } from "./index.ts";

await runUserService(service);
