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
 * Reads a `vars` file by its repo-relative path: the parsed mapping, or undefined when no such file exists.
 * Throws a one-line ActionError for a file it cannot read (bad syntax, not a mapping, unsupported format).
 */
export type VarsFileReader = (path: string) => Record<string, Json> | undefined;

const noVarsFiles: VarsFileReader = () => undefined;

/**
 * Merges `from` into `into` as DVC's Context.merge_update does: mappings merge key by key, and any other
 * value already defined is an error (vars never silently override each other).
 */
function mergeVars(into: Context, from: Context, source: string, where: string): void {
  for (const [key, value] of Object.entries(from)) {
    const existing = into[key];
    if (existing === undefined) into[key] = value;
    else if (
      isComposite(existing) &&
      !Array.isArray(existing) &&
      isComposite(value) &&
      !Array.isArray(value)
    ) {
      const merged = { ...(existing as Context) };
      mergeVars(merged, value as Context, source, where);
      into[key] = merged;
    } else
      throw new ActionError(
        `${where}: vars: cannot redefine '${key}' from '${source}' as it is already defined`,
      );
  }
}

/**
 * DVC's `load_from_vars`: `params.yaml` in `dir` when it exists, then each entry of `vars` in order; a string
 * entry names a file relative to `dir` (`file`, or `file:key1,key2` for some top-level keys only), a mapping
 * is inline. `dir` is the dvc.yaml's folder for top-level vars and the stage's wdir for a stage's own vars.
 */
function loadVars(
  context: Context,
  vars: Json,
  dir: string,
  read: VarsFileReader,
  where: string,
  loaded: Map<string, string[] | undefined>,
  withDefault: boolean,
): void {
  if (vars !== undefined && !Array.isArray(vars))
    throw new ActionError(`${where}: 'vars' must be a list of file names and mappings`);
  const fromFile = (entry: string, required: boolean) => {
    const [name = '', keysText = ''] = entry.split(/:(.*)/s);
    const path = posix.normalize(posix.join(dir || '.', name));
    const keys = keysText.split(',').filter(Boolean);
    const selected = keys.length > 0 ? keys : undefined;
    // The same whole file named twice (params.yaml is loaded by default) is read once, as DVC allows.
    if (loaded.has(path) && !selected && !loaded.get(path)) return;
    const data = read(path);
    if (!data) {
      if (required) throw new ActionError(`${where}: vars: '${path}' does not exist`);
      return;
    }
    let picked: Context = data;
    if (selected) {
      picked = {};
      for (const key of selected) {
        if (!(key in data)) throw new ActionError(`${where}: vars: could not find '${key}' in '${path}'`);
        picked[key] = data[key];
      }
    }
    mergeVars(context, picked, path, where);
    loaded.set(path, selected);
  };
  if (withDefault) fromFile('params.yaml', false);
  for (const entry of (vars as Json[] | undefined) ?? []) {
    if (typeof entry === 'string') {
      if (/\$\{/.test(entry))
        throw new ActionError(`${where}: vars: '${entry}': interpolation is not allowed in 'vars'`);
      fromFile(entry, true);
    } else if (isComposite(entry) && !Array.isArray(entry))
      mergeVars(context, entry as Context, 'vars', where);
    else throw new ActionError(`${where}: 'vars' entries must be file names or mappings`);
  }
}

/**
 * The concrete stages of a `dvc.yaml` at `file` (repo-relative), with `foreach`/`matrix` groups expanded
 * into `name@key` stages and `${…}` resolved against the vars (params.yaml in the dvc.yaml's folder, the
 * top-level `vars` and each stage's own `vars`), as DVC's parser does for the fields that matter to a pull:
 * `wdir` and the outs' paths and flags.
 */
export function expandStages(
  doc: Json,
  file: string,
  readVarsFile: VarsFileReader = noVarsFiles,
): Map<string, StageSpec> {
  const result = new Map<string, StageSpec>();
  if (!isComposite(doc)) return result;
  const top = doc as Record<string, Json>;
  const dir = posix.dirname(file) === '.' ? '' : posix.dirname(file);
  const context: Context = {};
  const loaded = new Map<string, string[] | undefined>();
  loadVars(context, top.vars, dir, readVarsFile, file, loaded, true);
  const add = (name: string, template: Record<string, Json>, extra: Context) => {
    const where = `${file}:${name}`;
    let stageContext: Context = { ...context, ...extra };
    const rawWdir =
      template.wdir === undefined ? '.' : toStr(interpolate(template.wdir, stageContext, where));
    const wdir = posix.normalize(posix.join(dir || '.', rawWdir));
    if (wdir === '..' || wdir.startsWith('../') || posix.isAbsolute(rawWdir))
      throw new ActionError(`${where}: wdir '${rawWdir}' is outside the repository`);
    const base = wdir === '.' ? '' : wdir;
    if (template.vars !== undefined) {
      // A stage's own vars are read relative to its wdir, after the top-level ones (dvc/parsing resolve_stage).
      stageContext = structuredClone(stageContext);
      loadVars(stageContext, template.vars, base, readVarsFile, where, new Map(loaded), false);
    }
    const stage = interpolate(
      Object.fromEntries(Object.entries(template).filter(([k]) => ['outs', 'metrics', 'plots'].includes(k))),
      stageContext,
      where,
    ) as Record<string, Json>;
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
