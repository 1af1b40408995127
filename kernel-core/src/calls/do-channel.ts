// SYS_CHANNEL: the caller asks for a direct channel to one incarnation of a server. The
// privilege table's `paths` must name `channel` for the pair; the kernel checks the pair
// once here (ipc, placement, a live destination), tells the server the channel's token
// and the caller's incarnation, and answers the subject the caller publishes on. Every
// message on it is then authenticated by NATS (only the caller's user may publish that
// subject) and the token (only this incarnation was given it), with no kernel on the path.
import type { SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

export const doChannel: KernelCall<typeof SysCall.SYS_CHANNEL, "openChannel"> = (k, c) => k.openChannel(c, c.args.dst);
