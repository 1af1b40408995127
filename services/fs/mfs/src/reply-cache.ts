// The duplicate request cache (NFS servers' DRC): the replies of recent changes, by the
// request id their caller gave them. A change resent after vfs restarted (the client
// library resends with the same id, through a new vfs) is answered from here, not done
// twice. Ids are per caller: the key is the label that sent the request to this server
// (authenticated by the kernel: vfs) and the id it passed on, which vfs makes out of its
// own caller's endpoint and id (vfs's request-id.ts), so one program's id never answers
// another's. A repeat whose request differs from the first (another type, or another
// digest of what was asked) is refused with EINVAL: an id names one change. Only successes
// are kept: a change that failed changed nothing, and is simply tried again. In memory:
// after mfs itself restarts, the rules for resent changes in vfs and the client library
// apply. Bounded per caller and in total: the oldest entries go first.
import { MkError, typeName, type Reply } from "#abi";

/** Replies remembered per caller (one program's changes in flight when vfs died are what gets resent). */
const MAX_PER_CALLER = 128;
/** Replies remembered across all callers. */
const MAX_ENTRIES = 16_384;

interface Entry {
  /** The request's type and digest: what the id was first used for. */
  request: string;
  reply: Reply;
}

export class ReplyCache {
  /** Each caller's entries, oldest first. */
  private readonly callers = new Map<string, Map<string, Entry>>();
  /** Every entry's caller and id, oldest first (for the bound in total). */
  private readonly order = new Map<string, { caller: string; rid: string }>();

  /**
   * Runs a change once per (sender, request id): a repeat of the same request gets the first
   * reply; another request under the same id is EINVAL. `digest` is what was asked (from
   * vfs, or the server's own of the request's arguments and body).
   */
  async once(sender: string, rid: string | undefined, type: number, digest: string, run: () => Promise<Reply>): Promise<Reply> {
    if (!rid) return run();
    // The program the id belongs to: the endpoint vfs put before it (any prefix, from another sender).
    const caller = `${sender}\u0000${rid.slice(0, Math.max(rid.lastIndexOf(":"), 0))}`;
    const request = `${type}:${digest}`;
    const seen = this.callers.get(caller)?.get(rid);
    if (seen) {
      if (seen.request === request) return seen.reply;
      const id = rid.slice(rid.lastIndexOf(":") + 1);
      throw new MkError(
        "EINVAL",
        `request id ${id} was first used for another request than this ${typeName(type)}: an id names one change, resent unchanged`,
      );
    }
    const reply = await run();
    this.remember(caller, rid, { request, reply });
    return reply;
  }

  private remember(caller: string, rid: string, entry: Entry): void {
    let mine = this.callers.get(caller);
    if (!mine) this.callers.set(caller, (mine = new Map()));
    mine.set(rid, entry);
    this.order.set(`${caller}\u0000${rid}`, { caller, rid });
    if (mine.size > MAX_PER_CALLER) this.forget(caller, mine.keys().next().value!);
    if (this.order.size > MAX_ENTRIES) {
      const oldest = this.order.values().next().value!;
      this.forget(oldest.caller, oldest.rid);
    }
  }

  private forget(caller: string, rid: string): void {
    this.order.delete(`${caller}\u0000${rid}`);
    const mine = this.callers.get(caller);
    if (!mine) return;
    mine.delete(rid);
    if (mine.size === 0) this.callers.delete(caller);
  }
}
