// tty as its own process (placement: user).
import { runUserService } from "../../../libsys/src/run.ts";
import { service } from "./index.ts";

await runUserService(service);
