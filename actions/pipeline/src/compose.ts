import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ActionContext,
  ActionError,
  type AnyActionDefinition,
  defineAction,
  InputError,
  input,
  oneLine,
  z,
} from '@mlops-actions/kit';

export type Values = Record<string, unknown>;

export interface Step {
  action: AnyActionDefinition;
  /** Prepended to the step's input and output names that another step also uses. */
  prefix: string;
  /** Only these steps are optional; their required inputs become optional at the top level. */
  enabledBy?: { input: string; description: string };
  /** Step inputs taken from earlier results (outputs by step id, plus the top-level inputs) unless set. */
  feeds?: Record<string, { from: string; describe: string; pick(results: Values, inputs: Values): unknown }>;
}

export const output = (step: string, name: string) => ({
  from: step,
  describe: `the ${name} output of ${step}`,
  pick: (results: Values) => (results[step] as Values | undefined)?.[name],
});

type Shape = Record<string, z.ZodType>;
const shapeOf = (schema: unknown) => (schema as z.ZodObject).shape as Shape;

/** Names used by more than one step in the given shapes: those get the step's prefix. */
function collisions(shapes: Shape[]): Set<string> {
  const seen = new Map<string, number>();
  for (const shape of shapes)
    for (const name of Object.keys(shape)) seen.set(name, (seen.get(name) ?? 0) + 1);
  return new Set([...seen].filter(([, n]) => n > 1).map(([name]) => name));
}

interface ZodDef {
  type: string;
  innerType?: z.ZodType;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

/** The field without its default: a fed input's default is the earlier step's output. */
function withoutDefault(field: z.ZodType): z.ZodType {
  const def = defOf(field);
  return (def.type === 'default' || def.type === 'prefault') && def.innerType ? def.innerType : field;
}

/** A step's input as the pipeline declares it: same schema, the step named, optional where fed or conditional. */
function topLevelInput(step: Step, name: string, field: z.ZodType): z.ZodType {
  const feed = step.feeds?.[name];
  const description = `${step.action.id}: ${field.description ?? ''}${feed ? ` (default here: ${feed.describe})` : ''}`;
  const base = feed ? withoutDefault(field).optional() : step.enabledBy ? field.optional() : field;
  return base.describe(description);
}

/** The parent context seen by one step: its own name, temp folder, failure and state keys. */
function stepContext(step: Step, ctx: ActionContext): ActionContext & { failed?: string } {
  const id = step.action.id;
  const sub: ActionContext & { failed?: string } = {
    ...ctx,
    name: id,
    get tempDir() {
      const dir = join(ctx.tempDir, step.prefix);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    state: {
      save: (key, value) => ctx.state.save(`${step.prefix}.${key}`, value),
      get: (key) => ctx.state.get(`${step.prefix}.${key}`),
    },
    fail: (message) => {
      sub.failed ??= message;
    },
  };
  return sub;
}

const enabled = (step: Step, i: Values) => !step.enabledBy || i[step.enabledBy.input] === true;

/**
 * One action running `steps` in order, in process: the union of their inputs and outputs (a name two
 * steps share gets the step's prefix), each step validated by its own schema and fed earlier outputs,
 * the chain stopped at the first failure with the outputs so far written.
 */
export function composePipeline(
  steps: Step[],
  about: Pick<AnyActionDefinition, 'id' | 'name' | 'description' | 'branding'>,
) {
  const inputCollisions = collisions(steps.map((s) => shapeOf(s.action.inputs)));
  const outputCollisions = collisions(steps.map((s) => shapeOf(s.action.outputs)));

  const inputName = (step: Step, name: string) =>
    inputCollisions.has(name) ? `${step.prefix}-${name}` : name;
  const outputName = (step: Step, name: string) =>
    outputCollisions.has(name) ? `${step.prefix}-${name}` : name;

  function composeInputs() {
    const shape: Shape = {};
    for (const step of steps) {
      if (step.enabledBy)
        shape[step.enabledBy.input] = input.boolean().prefault('false').describe(step.enabledBy.description);
      for (const [name, field] of Object.entries(shapeOf(step.action.inputs)))
        shape[inputName(step, name)] = topLevelInput(step, name, field);
    }
    return z.object(shape);
  }

  function composeOutputs() {
    const shape: Shape = {};
    for (const step of steps)
      for (const [name, field] of Object.entries(shapeOf(step.action.outputs)))
        shape[outputName(step, name)] = field
          .optional()
          .describe(`${step.action.id}: ${field.description ?? ''} (unset when the step did not run)`);
    return z.object(shape);
  }

  /** A step's inputs under its own names, fed from earlier results, validated by its own schema. */
  function stepInputs(step: Step, all: Values, results: Values): Values {
    const values: Values = {};
    const topName: Record<string, string> = {};
    for (const name of Object.keys(shapeOf(step.action.inputs))) {
      topName[name] = inputName(step, name);
      const fed = step.feeds?.[name]?.pick(results, all);
      // register-model reports "no digest" as an empty string: the next step then has none either.
      values[name] = all[topName[name]] ?? (fed === '' ? undefined : fed);
    }
    const parsed = (step.action.inputs as z.ZodObject).safeParse(values);
    if (parsed.success) return parsed.data as Values;
    const issue = parsed.error.issues[0]!;
    const name = issue.path.length > 0 ? topName[String(issue.path[0])] : undefined;
    if (!name) throw new ActionError(`${step.action.id} inputs: ${oneLine(issue.message)}`);
    const missing = issue.code === 'invalid_type' && values[String(issue.path[0])] === undefined;
    throw new InputError(
      name,
      missing ? `Input '${name}' is required but was not set` : oneLine(issue.message),
    );
  }

  /** The step's error, its input names replaced by the pipeline's, prefixed with the step. */
  function stepFailure(step: Step, error: unknown): string {
    let message =
      error instanceof ActionError
        ? error.message
        : error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error);
    const named = /^Input '([^']+)'/.exec(message);
    if (named && named[1]! in shapeOf(step.action.inputs))
      message = `Input '${inputName(step, named[1]!)}'${message.slice(named[0].length)}`;
    return `${step.action.id}: ${oneLine(message)}`;
  }

  /** Each step's post with the state its main step saved; a step whose inputs were invalid never ran. */
  async function post(i: Values, ctx: ActionContext): Promise<void> {
    for (const step of steps) {
      if (!step.action.post || !enabled(step, i)) continue;
      let values: Values;
      try {
        values = stepInputs(step, i, {});
      } catch {
        ctx.log.info(`Post step of ${step.action.id} skipped: its inputs were invalid, so it did not run.`);
        continue;
      }
      await step.action.post(values, stepContext(step, ctx));
    }
  }

  return defineAction({
    ...about,
    inputs: composeInputs(),
    outputs: composeOutputs(),
    async run(i, ctx) {
      const results: Values = {};
      const flat: Values = {};
      const rows: string[] = [];
      for (const step of steps) {
        const id = step.action.id;
        if (!enabled(step, i)) {
          rows.push(`| ${id} | skipped (${step.enabledBy?.input}: false) |`);
          continue;
        }
        const sub = stepContext(step, ctx);
        let failure: string | undefined;
        try {
          const values = stepInputs(step, i, results);
          ctx.log.info(`pipeline: ${id}`);
          const result = (step.action.outputs as z.ZodObject).parse(
            await step.action.run(values, sub),
          ) as Values;
          results[id] = result;
          for (const [name, value] of Object.entries(result)) flat[outputName(step, name)] = value;
          if (sub.failed) failure = `${id}: ${oneLine(sub.failed)}`;
        } catch (error) {
          if (ctx.signal.aborted) throw error;
          failure = stepFailure(step, error);
        }
        rows.push(`| ${id} | ${failure ? `failed: ${failure.slice(id.length + 2)}` : 'done'} |`);
        if (failure) {
          ctx.summary.add(['### pipeline', '', '| step | result |', '| --- | --- |', ...rows].join('\n'));
          ctx.fail(failure);
          return flat;
        }
      }
      ctx.summary.add(['### pipeline', '', '| step | result |', '| --- | --- |', ...rows].join('\n'));
      return flat;
    },
    // The runner calls a post step only when action.yml declares one: only when a step has one.
    ...(steps.some((s) => s.action.post) ? { post } : {}),
  });
}
