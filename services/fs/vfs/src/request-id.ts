// A user program's request id as vfs passes it on to a file-system server's reply cache.
// The id is the caller's own: vfs puts the caller's endpoint before it (the authenticated
// source the kernel stamped, label#generation), so no caller's id answers another's. The
// same incarnation resending through a new vfs keeps its endpoint, so its resend is still
// answered from the cache; a new incarnation of the label is another caller and starts
// afresh. vfs adds a digest of what was asked under the id (the request's type, the
// arguments that name the change, the body): the server refuses a repeat of the id with
// another request instead of answering it with the first one's reply.
import { createHash } from "node:crypto";

export interface FsRequestId {
  rid?: string;
  digest?: string;
}

/**
 * `what` is what identifies the request across resends: paths, flags and mode as the caller
 * sent them, and for a write the file's inode, never the descriptor (a resend through a new
 * vfs comes on a descriptor opened again there).
 */
export function fsRequestId(
  source: string,
  rid: string | undefined,
  type: number,
  what: readonly (string | number | undefined)[],
  body?: Uint8Array,
): FsRequestId {
  if (!rid) return {};
  const h = createHash("sha256").update(JSON.stringify([type, ...what]));
  if (body) h.update(body);
  return { rid: `${source}:${rid}`, digest: h.digest("base64url") };
}
