// What commands print on stdout: JSON (one document, or one object per line for per-task output)
// or human-readable tables and values. Errors and decoration go to stderr, never here.

type Cell = string | number | boolean | null | undefined;

/** One JSON document, pretty when a person is reading. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, process.stdout.isTTY ? 2 : undefined)}\n`);
}

/** One compact JSON object per line (JSON Lines). */
export function printJsonLines(values: unknown[]): void {
  if (values.length === 0) return;
  process.stdout.write(values.map((value) => JSON.stringify(value)).join('\n') + '\n');
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** A message for people, on stderr (so stdout stays clean for data). */
export function note(text: string): void {
  process.stderr.write(`celeriac: ${text}\n`);
}

/** Aligned columns under upper-case headers. Prints `empty` (on stderr) when there are no rows. */
export function printTable(headers: string[], rows: Cell[][], empty = 'nothing to show'): void {
  if (rows.length === 0) {
    note(empty);
    return;
  }
  const text = [headers, ...rows.map((row) => row.map(cellText))];
  const widths = headers.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length)));
  for (const row of text) {
    const line = row.map((cell, i) => (i === row.length - 1 ? cell : (cell ?? '').padEnd(widths[i]!))).join('  ');
    printLine(line.trimEnd());
  }
}

/** `key: value` lines with aligned values. */
export function printFields(fields: Array<[string, Cell]>): void {
  const shown = fields.filter(([, value]) => value !== undefined);
  const width = Math.max(...shown.map(([key]) => key.length)) + 1;
  for (const [key, value] of shown) printLine(`${`${key}:`.padEnd(width)}  ${cellText(value)}`);
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '-';
  return String(cell);
}

/** A JSON value on one line, shortened for a table cell. */
export function compactJson(value: unknown, max = 60): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `12s ago`, `3m ago`: how long before now a date was. */
export function ago(date: Date | undefined, now = Date.now()): string | undefined {
  if (!date) return undefined;
  return `${humanMs(now - date.getTime())} ago`;
}

/** `in 12s` or `12s ago`. */
export function relative(date: Date | undefined, now = Date.now()): string | undefined {
  if (!date) return undefined;
  const delta = date.getTime() - now;
  return delta >= 0 ? `in ${humanMs(delta)}` : `${humanMs(-delta)} ago`;
}

/** A duration in the largest unit that keeps it readable: 250ms, 12s, 3m, 2h, 4d. */
export function humanMs(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)}h`;
  return `${Math.floor(ms / 86_400_000)}d`;
}

export function isoTime(date: Date | undefined): string | undefined {
  return date?.toISOString();
}
