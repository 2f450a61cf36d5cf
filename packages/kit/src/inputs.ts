import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { oneLine } from './errors';
import { parseBoolean, parseDuration, parseJson, parseKeyValues, parseList, parsePercent } from './parse';

/**
 * Zod builders for action inputs. The runner hands every input over as a string; each builder accepts
 * that string form (and the already-typed value, so tests and chained steps can pass either).
 */
function fromString<T extends z.ZodType>(parse: (raw: string) => unknown, schema: T) {
  return z.preprocess((value, ctx) => {
    if (typeof value !== 'string') return value;
    try {
      return parse(value);
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: (error as Error).message, input: value });
      return z.NEVER;
    }
  }, schema);
}

export const input = {
  string: () => z.string(),
  list: <T extends z.ZodType = z.ZodString>(item?: T) => fromString(parseList, z.array(item ?? z.string())),
  boolean: () => fromString(parseBoolean, z.boolean()),
  /** Milliseconds. */
  duration: () => fromString(parseDuration, z.number().nonnegative()),
  percent: () => fromString(parsePercent, z.number().min(0).max(100)),
  integer: () =>
    fromString((raw) => {
      const value = Number(raw.trim());
      if (!Number.isInteger(value)) throw new Error('expected a whole number');
      return value;
    }, z.number().int()),
  number: () =>
    fromString((raw) => {
      const value = Number(raw.trim());
      if (raw.trim() === '' || !Number.isFinite(value)) throw new Error('expected a number');
      return value;
    }, z.number()),
  json: <T extends z.ZodType>(schema: T) => fromString(parseJson, schema),
  /** YAML (so JSON too), validated against `schema`. */
  yaml: <T extends z.ZodType>(schema: T) =>
    fromString((raw) => {
      try {
        return parseYaml(raw);
      } catch (error) {
        throw new Error(`expected YAML (${oneLine((error as Error).message)})`);
      }
    }, schema),
  keyValues: () => fromString(parseKeyValues, z.record(z.string(), z.string())),
  /** Marks an input as secret: its value is masked in the log before anything else runs. */
  secret: <T extends z.ZodType>(schema: T): T => schema.meta({ secret: true }) as T,
};

export interface InputMeta {
  name: string;
  description: string;
  required: boolean;
  /** The default as a workflow author would write it, when there is one. */
  default?: string;
  secret: boolean;
}

type AnyDef = {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  defaultValue?: unknown;
};

function defOf(schema: z.ZodType): AnyDef {
  return (schema as unknown as { _zod: { def: AnyDef } })._zod.def;
}

function defaultToString(value: unknown): string {
  if (Array.isArray(value)) return value.join('\n');
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** Reads description, default, required and secret off a field schema, through its wrappers. */
export function describeField(name: string, schema: z.ZodType): InputMeta {
  let description: string | undefined;
  let secret = false;
  let required = true;
  let defaultValue: string | undefined;
  let current: z.ZodType | undefined = schema;
  while (current) {
    const meta = z.globalRegistry.get(current) as { description?: string; secret?: boolean } | undefined;
    description ??= meta?.description;
    secret ||= meta?.secret === true;
    const def = defOf(current);
    if (def.type === 'default' || def.type === 'prefault') {
      required = false;
      if (defaultValue === undefined) {
        const value = def.defaultValue;
        defaultValue = defaultToString(typeof value === 'function' ? (value as () => unknown)() : value);
      }
    }
    if (def.type === 'optional') required = false;
    current = def.innerType ?? (def.type === 'pipe' ? def.out : undefined);
  }
  if (!description) throw new Error(`schema field '${name}' has no description; add .describe(...)`);
  return { name, description, required, default: defaultValue, secret };
}

export function describeFields(schema: z.ZodObject): InputMeta[] {
  return Object.entries(schema.shape).map(([name, field]) => describeField(name, field as z.ZodType));
}
