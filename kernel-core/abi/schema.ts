// Argument schemas: what a message's arguments must look like, checked where they come
// off the wire. A failed check is EBADREQUEST naming the field and what was wrong.
import { MkError } from "./errno.ts";

export type Field =
  | { readonly kind: "uint"; readonly max: number }
  | { readonly kind: "int"; readonly min: number; readonly max: number }
  | { readonly kind: "num"; readonly min: number; readonly max: number }
  | { readonly kind: "bool" }
  | { readonly kind: "str"; readonly max: number; readonly pattern?: RegExp }
  | { readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly kind: "list"; readonly of: Field; readonly max: number }
  | { readonly kind: "tuple"; readonly items: readonly Field[] }
  | { readonly kind: "object"; readonly fields: Shape }
  | { readonly kind: "opt"; readonly of: Field }
  | { readonly kind: "unknown" }
  | { readonly kind: "refine"; readonly of: Field; readonly check: (v: never) => string | undefined };
export type Shape = { readonly [name: string]: Field };

export const f = {
  u8: { kind: "uint", max: 0xff } as const,
  u16: { kind: "uint", max: 0xffff } as const,
  u32: { kind: "uint", max: 0xffffffff } as const,
  uint: (max: number) => ({ kind: "uint", max }) as const,
  int: (min: number, max: number) => ({ kind: "int", min, max }) as const,
  /** A finite number, not only an integer (a percentage with a decimal). */
  num: (min: number, max: number) => ({ kind: "num", min, max }) as const,
  bool: { kind: "bool" } as const,
  str: (max: number, pattern?: RegExp) => ({ kind: "str", max, pattern }) as const,
  enum: <const V extends readonly string[]>(...values: V) => ({ kind: "enum", values }) as const,
  list: <F extends Field>(of: F, max: number) => ({ kind: "list", of, max }) as const,
  tuple: <const I extends readonly Field[]>(...items: I) => ({ kind: "tuple", items }) as const,
  object: <S extends Shape>(fields: S) => ({ kind: "object", fields }) as const,
  opt: <F extends Field>(of: F) => ({ kind: "opt", of }) as const,
  unknown: { kind: "unknown" } as const,
  /** A field with a further check across its parts (e.g. a vector's total bytes); the check names what is wrong. */
  refine: <F extends Field>(of: F, check: (v: Infer<F>) => string | undefined) => ({ kind: "refine", of, check }) as const,
};

type InferTuple<I extends readonly Field[]> = { -readonly [K in keyof I]: I[K] extends Field ? Infer<I[K]> : never };
export type Infer<F extends Field> = F extends { kind: "uint" | "int" | "num" }
  ? number
  : F extends { kind: "bool" }
    ? boolean
    : F extends { kind: "str" }
      ? string
      : F extends { kind: "enum"; values: readonly (infer V)[] }
        ? V
        : F extends { kind: "list"; of: infer O extends Field }
          ? Infer<O>[]
          : F extends { kind: "tuple"; items: infer I extends readonly Field[] }
            ? InferTuple<I>
            : F extends { kind: "object"; fields: infer S extends Shape }
              ? InferShape<S>
              : F extends { kind: "opt"; of: infer O extends Field }
                ? Infer<O> | undefined
                : F extends { kind: "refine"; of: infer O extends Field }
                  ? Infer<O>
                  : unknown;
type OptKeys<S extends Shape> = { [K in keyof S]: S[K] extends { kind: "opt" } ? K : never }[keyof S];
export type InferShape<S extends Shape> = { -readonly [K in Exclude<keyof S, OptKeys<S>>]: Infer<S[K]> } & {
  -readonly [K in OptKeys<S>]?: Infer<S[K]>;
};

// The path to a field ("ops[7][1]") is built only when a check fails: on the hot path a
// vector of port operations is checked element by element, and string building per
// element cost more than the checks.
type Key = string | number;

function render(keys: readonly Key[]): string {
  let s = "";
  for (const k of keys) s += typeof k === "number" ? `[${k}]` : s ? `.${k}` : k;
  return s || "(root)";
}

function bad(keys: readonly Key[], what: string): never {
  const arg = render(keys);
  throw new MkError("EBADREQUEST", `argument ${arg}: ${what}`, { detail: { arg: arg.slice(0, 64) } });
}

function check(field: Field, v: unknown, keys: Key[]): unknown {
  switch (field.kind) {
    case "uint":
      if (typeof v !== "number" || !Number.isInteger(v)) bad(keys, `expected an integer, got ${describe(v)}`);
      if (v < 0 || v > field.max) bad(keys, `${v} is outside 0..${field.max}`);
      return v;
    case "int":
      if (typeof v !== "number" || !Number.isInteger(v)) bad(keys, `expected an integer, got ${describe(v)}`);
      if (v < field.min || v > field.max) bad(keys, `${v} is outside ${field.min}..${field.max}`);
      return v;
    case "num":
      if (typeof v !== "number" || !Number.isFinite(v)) bad(keys, `expected a number, got ${describe(v)}`);
      if (v < field.min || v > field.max) bad(keys, `${v} is outside ${field.min}..${field.max}`);
      return v;
    case "bool":
      if (typeof v !== "boolean") bad(keys, `expected true or false, got ${describe(v)}`);
      return v;
    case "str":
      if (typeof v !== "string") bad(keys, `expected a string, got ${describe(v)}`);
      if (v.length > field.max) bad(keys, `string longer than ${field.max}`);
      if (field.pattern && !field.pattern.test(v)) bad(keys, `${JSON.stringify(v)} does not match ${field.pattern}`);
      return v;
    case "enum":
      if (typeof v !== "string" || !field.values.includes(v)) bad(keys, `expected one of ${field.values.join("|")}, got ${describe(v)}`);
      return v;
    case "list": {
      if (!Array.isArray(v)) bad(keys, `expected a list, got ${describe(v)}`);
      if (v.length > field.max) bad(keys, `list longer than ${field.max}`);
      const out = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) {
        keys.push(i);
        out[i] = check(field.of, v[i], keys);
        keys.pop();
      }
      return out;
    }
    case "tuple": {
      const items = field.items;
      if (!Array.isArray(v) || v.length !== items.length) bad(keys, `expected a list of ${items.length}, got ${describe(v)}`);
      const out = new Array<unknown>(items.length);
      for (let i = 0; i < items.length; i++) {
        keys.push(i);
        out[i] = check(items[i], v[i], keys);
        keys.pop();
      }
      return out;
    }
    case "object":
      return shape(field.fields, v, keys);
    case "opt":
      return v === undefined || v === null ? undefined : check(field.of, v, keys);
    case "unknown":
      return v;
    case "refine": {
      const out = check(field.of, v, keys);
      const why = field.check(out as never);
      if (why !== undefined) bad(keys, why);
      return out;
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v);
  if (typeof v === "number") return String(v);
  return typeof v;
}

function shape(fields: Shape, raw: unknown, keys: Key[]): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) bad(keys, `expected an object, got ${describe(raw)}`);
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!Object.hasOwn(fields, key)) {
      keys.push(key);
      bad(keys, "unknown argument");
    }
  }
  const out: Record<string, unknown> = {};
  for (const key in fields) {
    keys.push(key);
    const v = check(fields[key], obj[key], keys);
    keys.pop();
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** raw[key] when raw is an object with that own key, else undefined: one field of JSON off the wire, before (or without) a shape. */
export function prop(raw: unknown, key: string): unknown {
  return typeof raw === "object" && raw !== null && Object.hasOwn(raw, key) ? Reflect.get(raw, key) : undefined;
}

export function parseShape<S extends Shape>(fields: S, raw: unknown): InferShape<S> {
  return shape(fields, raw, []) as InferShape<S>;
}
