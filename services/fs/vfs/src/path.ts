// Paths as vfs takes them: absolute, at most PATH_MAX bytes and PATH_DEPTH_MAX names,
// names of at most NAME_MAX bytes, no NUL. A path is walked component by component
// (lookup.ts): "." and ".." are taken on the way, after the component before them was
// found to be a directory, so "/file/.." is ENOTDIR and "/nosuch/.." ENOENT, as POSIX
// says. mkos has no symbolic links, so what a valid path names is also its text with "."
// and ".." resolved (`parts`): "a/b/.." is "a", and ".." never climbs above the root
// ("/.." is "/"), as on Linux.
import { MkError, NAME_MAX, PATH_DEPTH_MAX, PATH_MAX } from "#abi";

const utf8 = new TextEncoder();

export interface ParsedPath {
  /** The components as written, in order: names, "." and "..", and "" for "//" or a trailing "/" (a "." too). */
  steps: string[];
  /** What the path names when it is valid: "." and ".." resolved; [] is the root. */
  parts: string[];
  /** The directory steps and the last name, when the path ends in a name (a trailing "/" aside). */
  parent?: { steps: string[]; name: string };
  /** It ends in "/", "/." or "/..": it must name a directory. */
  dirOnly: boolean;
  /** Its last component is "." or ".." (rmdir refuses it, as POSIX says). */
  endsInDot: boolean;
}

export const isName = (step: string): boolean => step !== "" && step !== "." && step !== "..";

export function parsePath(path: string): ParsedPath {
  const steps = stepsOf(path);
  const parts: string[] = [];
  for (const step of steps) {
    if (step === "..") parts.pop();
    else if (isName(step)) parts.push(step);
  }
  let end = steps.length;
  while (end > 0 && steps[end - 1] === "") end--;
  const parent = end > 0 && isName(steps[end - 1]) ? { steps: steps.slice(0, end - 1), name: steps[end - 1] } : undefined;
  const last = path.slice(path.lastIndexOf("/") + 1);
  return {
    steps,
    parts,
    parent,
    dirOnly: path.length > 1 && (path.endsWith("/") || last === "." || last === ".."),
    endsInDot: last === "." || last === "..",
  };
}

/** The components of an absolute path as written, each name checked. */
function stepsOf(path: string): string[] {
  if (path === "") throw new MkError("ENOENT", "the empty path names no file");
  if (path.includes("\0")) throw new MkError("EINVAL", "a path may not contain a NUL byte");
  if (utf8.encode(path).length > PATH_MAX) throw new MkError("ENAMETOOLONG", `the path is longer than ${PATH_MAX} bytes`);
  if (!path.startsWith("/"))
    throw new MkError("EINVAL", `${JSON.stringify(path.slice(0, 64))} is not an absolute path (vfs has no working directory)`);
  const steps = path.slice(1).split("/");
  let names = 0;
  for (const name of steps) {
    if (!isName(name)) continue;
    if (utf8.encode(name).length > NAME_MAX)
      throw new MkError("ENAMETOOLONG", `the name ${JSON.stringify(name.slice(0, 16))}... is longer than ${NAME_MAX} bytes`);
    // Before any lookup: a path vfs will not walk costs nothing.
    if (++names > PATH_DEPTH_MAX)
      throw new MkError("ENAMETOOLONG", `the path has more than ${PATH_DEPTH_MAX} names (PATH_DEPTH_MAX), the most vfs walks`);
  }
  return steps;
}

export function joinPath(parts: readonly string[]): string {
  return `/${parts.join("/")}`;
}
