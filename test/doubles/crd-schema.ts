import { readFileSync } from 'node:fs';
import Ajv, { type AnySchema, type ErrorObject } from 'ajv';

/**
 * A CRD's structural `openAPIV3Schema` checked the way the API server does, as far as JSON Schema reaches:
 * types, required, enums, patterns, bounds, the int32/int64/date-time formats, and `x-kubernetes-list-type`
 * set/map uniqueness. `x-kubernetes-validations` (CEL) are not evaluated.
 */
export interface CrdSchema {
  /** The server's first complaint about the object, or undefined. */
  check(object: Record<string, unknown>): string | undefined;
  /** Paths of fields the schema does not declare: a Strict create refuses them, otherwise they are pruned. */
  unknownFields(object: Record<string, unknown>): string[];
}

type Node = Record<string, unknown>;

const INT32 = 2 ** 31;

function listKey(item: unknown, keys: string[] | undefined): string {
  if (!keys) return JSON.stringify(item);
  return JSON.stringify(keys.map((key) => (item as Node | null)?.[key] ?? null));
}

function newAjv(): Ajv {
  // Kubernetes' vendor keywords are not JSON Schema; strict mode would refuse to compile them.
  const ajv = new Ajv({ strict: false, allErrors: false });
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n: number) => Number.isInteger(n) && n >= -INT32 && n < INT32,
  });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i);
  ajv.addKeyword({
    keyword: 'x-kubernetes-list-type',
    type: 'array',
    schemaType: 'string',
    validate: function uniqueList(this: unknown, listType: string, data: unknown[], parent?: AnySchema) {
      if (listType !== 'set' && listType !== 'map') return true;
      const keys =
        listType === 'map'
          ? ((parent as Node)['x-kubernetes-list-map-keys'] as string[] | undefined)
          : undefined;
      const seen = new Set<string>();
      for (const item of data) {
        const key = listKey(item, keys);
        if (seen.has(key)) {
          (uniqueList as unknown as { errors: Partial<ErrorObject>[] }).errors = [
            { message: `Duplicate value: ${key}` },
          ];
          return false;
        }
        seen.add(key);
      }
      return true;
    },
    errors: true,
  });
  return ajv;
}

function unknownPaths(schema: Node | undefined, value: unknown, path: string, out: string[]): void {
  if (!schema || value === null || typeof value !== 'object') return;
  if (schema['x-kubernetes-preserve-unknown-fields'] === true) return;
  if (Array.isArray(value)) {
    for (const item of value) unknownPaths(schema.items as Node | undefined, item, `${path}[]`, out);
    return;
  }
  const properties = schema.properties as Record<string, Node> | undefined;
  const additional = schema.additionalProperties as Node | undefined;
  for (const [key, child] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    if (properties?.[key]) unknownPaths(properties[key], child, childPath, out);
    else if (additional && typeof additional === 'object') unknownPaths(additional, child, childPath, out);
    else if (properties || schema.type === 'object') out.push(childPath);
  }
}

/** Loads a CRD schema kept as a JSON fixture (see packages/compute/test/fixtures/README.md). */
export function loadCrdSchema(file: string | URL): CrdSchema {
  const schema = JSON.parse(readFileSync(file, 'utf8')) as Node;
  const validate = newAjv().compile(schema);
  return {
    check(object) {
      if (validate(object)) return undefined;
      const error = validate.errors?.[0];
      if (!error) return 'invalid';
      const path = error.instancePath.replace(/^\//, '').replaceAll('/', '.');
      return `${path || '<root>'}: ${error.message ?? 'invalid'}`;
    },
    unknownFields(object) {
      const out: string[] = [];
      // ObjectMeta is validated by the server itself; the CRD declares it as a bare object.
      const { metadata: _metadata, ...rest } = object;
      unknownPaths(schema, rest, '', out);
      return out;
    },
  };
}

const fixtures = new URL('../../packages/compute/test/fixtures/', import.meta.url);

/** Kubeflow Trainer's TrainJob (trainer.kubeflow.org/v1alpha1) and the training operator's PyTorchJob (kubeflow.org/v1). */
export const kubeflowSchemas = {
  'trainer.kubeflow.org/v1alpha1/TrainJob': () =>
    loadCrdSchema(new URL('trainjob-v1alpha1.schema.json', fixtures)),
  'kubeflow.org/v1/PyTorchJob': () => loadCrdSchema(new URL('pytorchjob-v1.schema.json', fixtures)),
};
