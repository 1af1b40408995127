// The duplicate request cache (NFS servers' DRC): the replies of recent changes, by the
// request id the user program gave its operation. A change resent after vfs restarted
// (the client library resends with the same id, through a new vfs) is answered from here,
// not done twice. Only successes are kept: a change that failed changed nothing, and is
// simply tried again. In memory: after mfs itself restarts, the rules for resent changes
// in vfs and the client library apply. Bounded: the oldest entries go first.
import type { Reply } from "#abi";

/** Replies remembered, across all callers. */
const MAX_ENTRIES = 4096;

export class ReplyCache {
  private readonly entries = new Map<string, { type: number; reply: Reply }>();

  /** Runs a change once per (caller label, request id): a repeat gets the first reply. */
  async once(caller: string, rid: string | undefined, type: number, run: () => Promise<Reply>): Promise<Reply> {
    if (!rid) return run();
    const key = `${caller}\u0000${rid}`;
    const seen = this.entries.get(key);
    if (seen && seen.type === type) return seen.reply;
    const reply = await run();
    this.entries.set(key, { type, reply });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return reply;
  }
}
