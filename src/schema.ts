// Input validation through any Standard Schema (zod, valibot, arktype, ...).
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationError, type ValidationIssue } from './errors.js';

export type { StandardSchemaV1 };

/** Validates `input` against a task's schema; returns the parsed value or throws ValidationError. */
export async function validateInput<S extends StandardSchemaV1>(
  taskName: string,
  schema: S | undefined,
  input: unknown,
): Promise<StandardSchemaV1.InferOutput<S>> {
  if (!schema) return input as StandardSchemaV1.InferOutput<S>;
  let result = schema['~standard'].validate(input);
  if (result instanceof Promise) result = await result;
  if (result.issues) throw new ValidationError(taskName, result.issues.map(toIssue));
  return result.value;
}

function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const path = (issue.path ?? [])
    .map((segment) => (typeof segment === 'object' ? segment.key : segment))
    .map(String)
    .join('.');
  return { message: issue.message, path };
}
