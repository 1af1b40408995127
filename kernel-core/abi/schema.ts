// Argument schemas: what a message's arguments must look like, checked where they come
// off the wire. A failed check is EBADREQUEST naming the field and what was wrong.
import { MkError } from "./errno.ts";

export type Field =
  | { readonly kind: "uint"; readonly max: number }
  | { readonly kind: "int"; readonly min: number; readonly max: number }
  | { readonly kind: "str"; readonly max: number; readonly pattern?: RegExp }
  | { readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly kind: "list"; readonly of: Field; readonly max: number }
  | { readonly kind: "tuple"; readonly items: readonly Field[] }
  | { readonly kind: "object"; readonly fields: Shape }
  | { readonly kind: "opt"; readonly of: Field }
  | { readonly kind: "unknown" };
export type Shape = { readonly [name: string]: Field };

export const f = {
  u8: { kind: "uint", max: 0xff } as const,
  u16: { kind: "uint", max: 0xffff } as const,
  u32: { kind: "uint", max: 0xffffffff } as const,
  uint: (max: number) => ({ kind: "uint", max }) as const,
  int: (min: number, max: number) => ({ kind: "int", min, max }) as const,
  str: (max: number, pattern?: RegExp) => ({ kind: "str", max, pattern }) as const,
  enum: <const V extends readonly string[]>(...values: V) => ({ kind: "enum", values }) as const,
  list: <F extends Field>(of: F, max: number) => ({ kind: "list", of, max }) as const,
  tuple: <const I extends readonly Field[]>(...items: I) => ({ kind: "tuple", items }) as const,
  object: <S extends Shape>(fields: S) => ({ kind: "object", fields }) as const,
  opt: <F extends Field>(of: F) => ({ kind: "opt", of }) as const,
  unknown: { kind: "unknown" } as const,
};

type InferTuple<I extends readonly Field[]> = { -readonly [K in keyof I]: I[K] extends Field ? Infer<I[K]> : never };
export type Infer<F extends Field> = F extends { kind: "uint" | "int" }
  ? number
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
              : unknown;
type OptKeys<S extends Shape> = { [K in keyof S]: S[K] extends { kind: "opt" } ? K : never }[keyof S];
export type InferShape<S extends Shape> = { -readonly [K in Exclude<keyof S, OptKeys<S>>]: Infer<S[K]> } & {
  -readonly [K in OptKeys<S>]?: Infer<S[K]>;
};

function bad(path: string, what: string): never {
  throw new MkError("EBADREQUEST", `argument ${path || "(root)"}: ${what}`);
}

function check(field: Field, v: unknown, path: string): unknown {
  switch (field.kind) {
    case "uint":
      if (typeof v !== "number" || !Number.isInteger(v)) bad(path, `expected an integer, got ${describe(v)}`);
      if (v < 0 || v > field.max) bad(path, `${v} is outside 0..${field.max}`);
      return v;
    case "int":
      if (typeof v !== "number" || !Number.isInteger(v)) bad(path, `expected an integer, got ${describe(v)}`);
      if (v < field.min || v > field.max) bad(path, `${v} is outside ${field.min}..${field.max}`);
      return v;
    case "str":
      if (typeof v !== "string") bad(path, `expected a string, got ${describe(v)}`);
      if (v.length > field.max) bad(path, `string longer than ${field.max}`);
      if (field.pattern && !field.pattern.test(v)) bad(path, `${JSON.stringify(v)} does not match ${field.pattern}`);
      return v;
    case "enum":
      if (typeof v !== "string" || !field.values.includes(v)) bad(path, `expected one of ${field.values.join("|")}, got ${describe(v)}`);
      return v;
    case "list":
      if (!Array.isArray(v)) bad(path, `expected a list, got ${describe(v)}`);
      if (v.length > field.max) bad(path, `list longer than ${field.max}`);
      return v.map((item, i) => check(field.of, item, `${path}[${i}]`));
    case "tuple":
      if (!Array.isArray(v) || v.length !== field.items.length) bad(path, `expected a list of ${field.items.length}, got ${describe(v)}`);
      return field.items.map((item, i) => check(item, v[i], `${path}[${i}]`));
    case "object":
      return parseShape(field.fields, v, path);
    case "opt":
      return v === undefined || v === null ? undefined : check(field.of, v, path);
    case "unknown":
      return v;
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return JSON.stringify(v.length > 20 ? v.slice(0, 20) + "..." : v);
  if (typeof v === "number") return String(v);
  return typeof v;
}

export function parseShape<S extends Shape>(shape: S, raw: unknown, path = ""): InferShape<S> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) bad(path, `expected an object, got ${describe(raw)}`);
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) if (!(key in shape)) bad(path ? `${path}.${key}` : key, "unknown argument");
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape)) {
    const v = check(field, obj[key], path ? `${path}.${key}` : key);
    if (v !== undefined) out[key] = v;
  }
  return out as InferShape<S>;
}
