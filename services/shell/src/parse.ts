// Tokenising one command line, as a POSIX shell's word splitting does the common part of
// it: blanks separate words, '...' and "..." quote, a backslash escapes the next character,
// a word that starts with # begins a comment. No expansion, redirection or pipes: the shell
// runs one command per line. Everything is bounded here, at the edge, before any command
// sees it.
import { MkError } from "#abi";

/** Longest line the shell takes (bytes, newline excluded); a longer one is refused whole. */
export const MAX_LINE = 1024;
/** Most words on one line (the command name included). */
export const MAX_ARGS = 64;

const utf8 = new TextEncoder();

/** The words of a line: [] for a blank line or a comment. E2BIG past the bounds, EINVAL for an unterminated quote or a NUL. */
export function tokenise(line: string): string[] {
  const text = line.replace(/\r?\n$/, "");
  const bytes = utf8.encode(text).length;
  if (bytes > MAX_LINE) throw new MkError("E2BIG", `line of ${bytes} bytes is over the ${MAX_LINE}-byte limit`);
  if (text.includes("\0")) throw new MkError("EINVAL", "line holds a NUL byte");
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === "\\" && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) word += text[++i];
      else word += ch;
    } else if (ch === " " || ch === "\t" || ch === "\r" || ch === "\n") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === "#" && word === undefined) {
      break;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= "";
    } else if (ch === "\\") {
      word = (word ?? "") + (i + 1 < text.length ? text[++i] : "");
    } else {
      word = (word ?? "") + ch;
    }
    if (words.length > MAX_ARGS) throw new MkError("E2BIG", `more than ${MAX_ARGS} words on one line`);
  }
  if (quote) throw new MkError("EINVAL", `unterminated ${quote} quote`);
  if (word !== undefined) words.push(word);
  if (words.length > MAX_ARGS) throw new MkError("E2BIG", `more than ${MAX_ARGS} words on one line`);
  return words;
}

/** `key=value` operands (dd's): a map, EINVAL for anything else or a key given twice. */
export function operands(args: string[], allowed: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of args) {
    const eq = a.indexOf("=");
    const key = eq < 0 ? a : a.slice(0, eq);
    if (eq < 0 || !allowed.includes(key))
      throw new MkError("EINVAL", `${JSON.stringify(a)}: expected one of ${allowed.map((k) => `${k}=`).join(" ")}`);
    if (m.has(key)) throw new MkError("EINVAL", `${key}= given twice`);
    m.set(key, a.slice(eq + 1));
  }
  return m;
}

/** A whole number in [min, max]: EINVAL otherwise (what names the operand). */
export function wholeNumber(s: string | undefined, what: string, min: number, max: number): number {
  if (s === undefined || !/^[0-9]{1,16}$/.test(s)) throw new MkError("EINVAL", `${what}: ${JSON.stringify(s ?? "")} is not a whole number`);
  const n = Number(s);
  if (n < min || n > max) throw new MkError("EINVAL", `${what}: ${n} is outside ${min}..${max}`);
  return n;
}
