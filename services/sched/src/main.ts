// sched as its own process (placement: user).
import { runUserService } from "#libsys";
import { service } from "./index.ts";

await runUserService(service);
