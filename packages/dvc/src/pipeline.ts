import { posix } from 'node:path';
import { ActionError } from '@mlops-actions/kit';

/** What `dvc.yaml` says about one concrete stage that `dvc.lock` leaves out: its wdir and out flags. */
export interface StageSpec {
  /** The stage's working directory, repo-relative (`''` for the root); lock paths are relative to it. */
  wdir: string;
  /** By repo-relative out path: `cache:` (default true). */
  cache: Map<string, boolean>;
  /** By repo-relative out path: the out's own `remote:`. */
  remote: Map<string, string>;
}

type Json = unknown;
type Context = Record<string, Json>;

const INTERPOLATION = /\$\{\s*([^}]+?)\s*\}/g;

/** Looks up `a.b[0].c` in the context, as DVC's parsing context does; undefined when absent. */
function lookup(context: Context, expression: string, where: string): Json {
  let value: Json = context;
  for (const part of expression.match(/[^.[\]]+/g) ?? []) {
    if (value === null || typeof value !== 'object') {
      throw new ActionError(`${where}: could not resolve '\${${expression}}' (no '${part}')`);
    }
    value = (value as Record<string, Json>)[part];
    if (value === undefined)
      throw new ActionError(
        `${where}: could not resolve '\${${expression}}': '${part}' is not defined in vars, params.yaml or the foreach/matrix item`,
      );
  }
  return value;
}

/** DVC's `to_str`: booleans print as true/false, the rest as Python's str() would for YAML scalars. */
function toStr(value: Json): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null) return 'None';
  return String(value);
}

/** Resolves `${…}` in a value: a lone `${x}` keeps x's type, an embedded one is formatted as a string. */
export function interpolate(value: Json, context: Context, where: string): Json {
  if (typeof value === 'string') {
    const whole = /^\$\{\s*([^}]+?)\s*\}$/.exec(value);
    if (whole) return lookup(context, whole[1]!, where);
    return value.replace(INTERPOLATION, (_, expression: string) => toStr(lookup(context, expression, where)));
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, context, where));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        String(interpolate(k, context, where)),
        interpolate(v, context, where),
      ]),
    );
  }
  return value;
}

const isComposite = (v: Json) => v !== null && typeof v === 'object';

/** `foreach` keys as DVC generates them: mapping keys, list values for scalar lists, indexes otherwise. */
function foreachItems(iterable: Json, where: string): Array<[string, Context]> {
  if (Array.isArray(iterable)) {
    if (iterable.some(isComposite)) return iterable.map((item, index) => [String(index), { item }]);
    return iterable.map((item) => [toStr(item), { item }]);
  }
  if (isComposite(iterable))
    return Object.entries(iterable as Record<string, Json>).map(([key, item]) => [key, { item, key }]);
  throw new ActionError(`${where}: 'foreach' must be a list or a mapping`);
}

/** `matrix` combinations as DVC names them: `-`-joined values, `<axis><index>` for composite values. */
function matrixItems(matrix: Json, where: string): Array<[string, Context]> {
  if (!isComposite(matrix) || Array.isArray(matrix))
    throw new ActionError(`${where}: 'matrix' must be a mapping of lists`);
  let combos: Array<{ fragments: string[]; item: Record<string, Json> }> = [{ fragments: [], item: {} }];
  for (const [axis, values] of Object.entries(matrix as Record<string, Json>)) {
    if (!Array.isArray(values)) throw new ActionError(`${where}: matrix axis '${axis}' must be a list`);
    combos = combos.flatMap((combo) =>
      values.map((value, index) => ({
        fragments: [...combo.fragments, isComposite(value) ? `${axis}${index}` : toStr(value)],
        item: { ...combo.item, [axis]: value },
      })),
    );
  }
  return combos.map(({ fragments, item }) => {
    const key = fragments.join('-');
    return [key, { item, key }];
  });
}

function outFlags(stage: Record<string, Json>, wdir: string): Pick<StageSpec, 'cache' | 'remote'> {
  const cache = new Map<string, boolean>();
  const remote = new Map<string, string>();
  for (const kind of ['outs', 'metrics', 'plots']) {
    const list = stage[kind];
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      if (typeof item === 'string') {
        cache.set(posix.normalize(posix.join(wdir, item)), true);
        continue;
      }
      if (!isComposite(item)) continue;
      for (const [path, flags] of Object.entries(item as Record<string, Record<string, Json> | null>)) {
        const key = posix.normalize(posix.join(wdir, path));
        cache.set(key, flags?.cache !== false);
        if (typeof flags?.remote === 'string') remote.set(key, flags.remote);
      }
    }
  }
  return { cache, remote };
}

/**
 * The concrete stages of a `dvc.yaml` at `file` (repo-relative), with `foreach`/`matrix` groups expanded
 * into `name@key` stages and `${…}` resolved against `vars` and `params` (the folder's params.yaml), as
 * DVC's parser does for the fields that matter to a pull: `wdir` and the outs' paths and flags.
 */
export function expandStages(doc: Json, file: string, params: Context = {}): Map<string, StageSpec> {
  const result = new Map<string, StageSpec>();
  if (!isComposite(doc)) return result;
  const top = doc as Record<string, Json>;
  const dir = posix.dirname(file) === '.' ? '' : posix.dirname(file);
  const context: Context = { ...params };
  for (const entry of Array.isArray(top.vars) ? top.vars : []) {
    if (isComposite(entry) && !Array.isArray(entry)) Object.assign(context, entry);
  }
  const add = (name: string, template: Record<string, Json>, extra: Context) => {
    const where = `${file}:${name}`;
    const stage = interpolate(
      Object.fromEntries(
        Object.entries(template).filter(([k]) => ['wdir', 'outs', 'metrics', 'plots'].includes(k)),
      ),
      { ...context, ...extra },
      where,
    ) as Record<string, Json>;
    const rawWdir = typeof stage.wdir === 'string' ? stage.wdir : '.';
    const wdir = posix.normalize(posix.join(dir || '.', rawWdir));
    if (wdir === '..' || wdir.startsWith('../') || posix.isAbsolute(rawWdir))
      throw new ActionError(`${where}: wdir '${rawWdir}' is outside the repository`);
    const base = wdir === '.' ? '' : wdir;
    result.set(name, { wdir: base, ...outFlags(stage, base) });
  };
  const stages = top.stages;
  for (const [name, body] of Object.entries(isComposite(stages) ? (stages as Record<string, Json>) : {})) {
    if (!isComposite(body)) continue;
    const { foreach, matrix, do: template, ...plain } = body as Record<string, Json>;
    const where = `${file}:${name}`;
    if (foreach !== undefined) {
      if (!isComposite(template)) throw new ActionError(`${where}: 'foreach' needs a 'do' mapping`);
      for (const [key, extra] of foreachItems(interpolate(foreach, context, where), where))
        add(`${name}@${key}`, template as Record<string, Json>, extra);
    } else if (matrix !== undefined) {
      for (const [key, extra] of matrixItems(interpolate(matrix, context, where), where))
        add(`${name}@${key}`, plain, extra);
    } else {
      add(name, plain, {});
    }
  }
  return result;
}
