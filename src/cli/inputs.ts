// The inputs `enqueue` stores: one JSON argument, or `-` for standard input (JSON Lines, one task per
// line, or one JSON document); `--each` spreads a JSON array into one task per element; `--count N`
// repeats the lot. Any bad JSON is a usage error and nothing is enqueued.
import { usageError } from './exit-codes.js';

export interface InputOptions {
  each?: boolean;
  count?: number;
}

/** Every input to enqueue, in order. No argument means one task without input. */
export async function readInputs(arg: string | undefined, options: InputOptions, stdin: NodeJS.ReadableStream = process.stdin): Promise<unknown[]> {
  let values: unknown[];
  if (arg === undefined) values = [undefined];
  else if (arg === '-') values = parseStdin(await readAll(stdin));
  else values = [parseJson(arg, 'the input argument')];
  if (options.each) values = values.flatMap(spread);
  const count = options.count ?? 1;
  const inputs: unknown[] = [];
  for (let i = 0; i < count; i++) inputs.push(...values);
  if (inputs.length === 0) throw usageError('nothing to enqueue (the input array is empty)');
  return inputs;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const hint = what === 'the input argument' ? ` (quote it for the shell: '{"text":"hi"}')` : '';
    throw usageError(`${what} is not valid JSON: ${(error as Error).message}${hint}`);
  }
}

/** JSON Lines; if some line is not JSON on its own, the whole text as one document. */
export function parseStdin(text: string): unknown[] {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  const values: unknown[] = [];
  for (const [index, line] of lines.entries()) {
    if (line === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch (error) {
      try {
        return [JSON.parse(text)];
      } catch {
        throw usageError(`line ${index + 1} of standard input is not valid JSON: ${(error as Error).message}`);
      }
    }
  }
  if (values.length === 0) throw usageError('no input on standard input (expected JSON, one input per line)');
  return values;
}

function spread(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw usageError('--each needs JSON arrays: one task is enqueued per element');
  return value;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
