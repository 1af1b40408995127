// Paths as vfs takes them: absolute, at most PATH_MAX bytes, names of at most NAME_MAX
// bytes, no NUL. "." and ".." are resolved by name, before any server is asked: mkos has
// no symbolic links, so "a/b/.." is always "a", and ".." never climbs above a mount or the
// root ("/.." is "/"), as on Linux.
import { MkError, NAME_MAX, PATH_MAX } from "#abi";

const utf8 = new TextEncoder();

export interface ParsedPath {
  /** The components, "." and ".." resolved; [] is the root. */
  parts: string[];
  /** It ends in "/", "/." or "/..": it must name a directory. */
  dirOnly: boolean;
  /** Its last component is "." or ".." (rmdir refuses it, as POSIX says). */
  endsInDot: boolean;
}

export function parsePath(path: string): ParsedPath {
  const parts = components(path);
  const last = path.slice(path.lastIndexOf("/") + 1);
  return { parts, dirOnly: path.length > 1 && (path.endsWith("/") || last === "." || last === ".."), endsInDot: last === "." || last === ".." };
}

/** The components of an absolute path, "." and ".." resolved; [] is the root. */
export function components(path: string): string[] {
  if (path === "") throw new MkError("ENOENT", "the empty path names no file");
  if (path.includes("\0")) throw new MkError("EINVAL", "a path may not contain a NUL byte");
  if (utf8.encode(path).length > PATH_MAX) throw new MkError("ENAMETOOLONG", `the path is longer than ${PATH_MAX} bytes`);
  if (!path.startsWith("/")) throw new MkError("EINVAL", `${JSON.stringify(path.slice(0, 64))} is not an absolute path (vfs has no working directory)`);
  const out: string[] = [];
  for (const name of path.split("/")) {
    if (name === "" || name === ".") continue; // "a//b" is "a/b", as POSIX says
    if (name === "..") {
      out.pop();
      continue;
    }
    if (utf8.encode(name).length > NAME_MAX) throw new MkError("ENAMETOOLONG", `the name ${JSON.stringify(name.slice(0, 16))}... is longer than ${NAME_MAX} bytes`);
    out.push(name);
  }
  return out;
}

export function joinPath(parts: readonly string[]): string {
  return "/" + parts.join("/");
}
