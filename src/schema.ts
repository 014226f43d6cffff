// Input validation through any Standard Schema (zod, valibot, arktype, ...).
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationError, type ValidationIssue } from './errors.js';

export type { StandardSchemaV1 };

/**
 * Validates `input` against a task's schema; returns the parsed value or throws ValidationError.
 * Synchronous schemas (most) answer synchronously; asynchronous ones return a promise.
 */
export function validateInput<S extends StandardSchemaV1>(
  taskName: string,
  schema: S | undefined,
  input: unknown,
): StandardSchemaV1.InferOutput<S> | Promise<StandardSchemaV1.InferOutput<S>> {
  if (!schema) return input as StandardSchemaV1.InferOutput<S>;
  const result = schema['~standard'].validate(input);
  return result instanceof Promise ? result.then((settled) => unwrap(taskName, settled)) : unwrap(taskName, result);
}

function unwrap<T>(taskName: string, result: StandardSchemaV1.Result<T>): T {
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
