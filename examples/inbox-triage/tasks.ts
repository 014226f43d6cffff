// The inbox-triage agent's app and tasks. Each email runs a chain, every step enqueueing the next:
//   inbox.triage -> inbox.classify -> inbox.summarize -> inbox.draft_reply (only when a reply is needed)
// Each step returns its part of the record and the id of the step it enqueued, so a caller can follow
// the chain with run.result(). A worker for these tasks: `celeriac worker -A examples/inbox-triage/tasks.ts -Q inbox,drafts`.
import { z } from 'zod';
import { Celeriac, NonRetryableError, type PriorityName, type RetryOptions, type TaskContext } from '../../src/index.js';
import type { RawEmail } from './fixtures.js';
import { BOSS } from './fixtures.js';
import { LocalModel, type Classification } from './model.js';

/** Broker from CELERIAC_BROKER_URL, else the embedded default `sqlite:.celeriac/celeriac.db` in the cwd. */
export const app = new Celeriac();

export const model = new LocalModel({ seed: 7, rateLimitRate: 0.06 });

/** Model calls are rate limited now and then: retry quickly with exponential backoff and full jitter. */
const MODEL_RETRY: RetryOptions = { maxRetries: 4, backoff: 'exponential', delay: '100ms', maxDelay: '2s', jitter: true };

const RawEmailSchema = z.object({
  messageId: z.string().min(1),
  from: z.string(),
  to: z.string(),
  subject: z.string(),
  body: z.string(),
  receivedAt: z.string(),
});

const ParsedEmailSchema = z.object({
  messageId: z.string(),
  fromName: z.string(),
  fromAddress: z.string(),
  subject: z.string(),
  body: z.string(),
  receivedAt: z.string(),
});
export type ParsedEmail = z.infer<typeof ParsedEmailSchema>;

const ClassificationSchema = z.object({
  category: z.enum(['urgent', 'action', 'question', 'meeting', 'fyi', 'newsletter', 'spam']),
  confidence: z.number().min(0).max(1),
  needsReply: z.boolean(),
  labels: z.array(z.string()),
});

/** What the chain has found out about one email so far; the last step's record is the whole story. */
export interface TriageRecord {
  messageId: string;
  from: string;
  subject: string;
  category?: Classification['category'];
  confidence?: number;
  needsReply?: boolean;
  summary?: string;
  draft?: string;
  /** The steps that ran, in order. */
  steps: string[];
}

/** Every step's result: its record, and the step it enqueued next, if any. */
export interface StepResult {
  record: TriageRecord;
  next?: { task: string; id: string };
}

const VIPS = new Set([BOSS.address]);

/** Where an email goes in the queue: the boss jumps it, outages come next, bulk mail waits. */
export function priorityFor(email: Pick<RawEmail, 'from' | 'subject' | 'body'>): PriorityName {
  const address = (/<([^<>]+)>/.exec(email.from)?.[1] ?? email.from).toLowerCase();
  if (VIPS.has(address)) return 'urgent';
  if (/\b(outage|down|urgent|asap)\b/i.test(email.subject)) return 'high';
  if (/unsubscribe/i.test(email.body) || /^(winner\d*|digest|newsletter|events|noreply)@/.test(address)) return 'low';
  return 'normal';
}

/** Parses the headers we rely on; anything broken is a NonRetryableError: retrying cannot fix the data. */
export function parseEmail(raw: RawEmail): ParsedEmail {
  const fail = (why: string) => new NonRetryableError(`malformed email ${raw.messageId}: ${why}`);
  const from = /^\s*"?([^"<]*?)"?\s*<([^<>\s@]+@[^<>\s@]+\.[^<>\s@]+)>\s*$/.exec(raw.from);
  const bare = /^\s*([^<>\s@]+@[^<>\s@]+\.[^<>\s@]+)\s*$/.exec(raw.from);
  if (!from && !bare) throw fail(`From header '${raw.from}' has no sender address`);
  const fromAddress = (from?.[2] ?? bare![1]!).toLowerCase();
  const fromName = from?.[1]?.trim() || fromAddress;
  const subject = raw.subject.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_word, _charset, encoding: string, text: string) => {
    if (encoding.toUpperCase() === 'B') {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw fail(`subject '${raw.subject}' is not valid base64 MIME`);
      return Buffer.from(text, 'base64').toString('utf8');
    }
    return text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  });
  if (raw.body.trim() === '') throw fail('the body is empty (lost in transit?)');
  if (Number.isNaN(Date.parse(raw.receivedAt))) throw fail(`Date header '${raw.receivedAt}' is not a date`);
  return { messageId: raw.messageId, fromName, fromAddress, subject, body: raw.body, receivedAt: raw.receivedAt };
}

function recordOf(email: ParsedEmail, steps: string[], extra: Partial<TriageRecord> = {}): TriageRecord {
  return { messageId: email.messageId, from: email.fromName, subject: email.subject, ...extra, steps };
}

/** Enqueue options for the next step: same priority (raised for what the model found urgent), deduplicated. */
function nextOptions(ctx: TaskContext, classification?: Classification) {
  const escalate = classification?.category === 'urgent' ? 10 : 0;
  // The key makes a re-run of this attempt (at-least-once delivery) find the step it already enqueued.
  return { priority: Math.max(ctx.priority, escalate), key: `${ctx.id}:next` };
}

/** Streams the model's progress into the task's progress (0..100 with the stage and token count). */
function progressTo(ctx: TaskContext) {
  return { attempt: ctx.attempt, signal: ctx.signal, onProgress: (percent: number, meta: unknown) => ctx.progress(percent, meta) };
}

export const draftReply = app.task({
  name: 'inbox.draft_reply',
  input: z.object({ email: ParsedEmailSchema, classification: ClassificationSchema, summary: z.string() }),
  queue: 'drafts',
  retry: MODEL_RETRY,
  softTimeLimit: '5s',
  timeLimit: '10s',
  async run({ email, classification, summary }, ctx): Promise<StepResult> {
    const draft = await model.draftReply(email, classification, progressTo(ctx));
    const steps = ['triage', 'classify', 'summarize', 'draft_reply'];
    return { record: recordOf(email, steps, { ...classificationFields(classification), summary, draft }) };
  },
});

export const summarize = app.task({
  name: 'inbox.summarize',
  input: z.object({ email: ParsedEmailSchema, classification: ClassificationSchema }),
  queue: 'inbox',
  retry: MODEL_RETRY,
  softTimeLimit: '5s',
  timeLimit: '10s',
  async run({ email, classification }, ctx): Promise<StepResult> {
    const summary = await model.summarize(email, progressTo(ctx));
    const record = recordOf(email, ['triage', 'classify', 'summarize'], { ...classificationFields(classification), summary });
    if (!classification.needsReply) return { record };
    const run = await draftReply.enqueue({ email, classification, summary }, nextOptions(ctx, classification));
    return { record, next: { task: draftReply.name, id: run.id } };
  },
});

export const classify = app.task({
  name: 'inbox.classify',
  input: z.object({ email: ParsedEmailSchema }),
  queue: 'inbox',
  retry: MODEL_RETRY,
  softTimeLimit: '5s',
  timeLimit: '10s',
  async run({ email }, ctx): Promise<StepResult> {
    const classification = await model.classify(email, progressTo(ctx));
    const record = recordOf(email, ['triage', 'classify'], classificationFields(classification));
    if (classification.category === 'spam') return { record }; // Nothing to summarize or answer.
    const run = await summarize.enqueue({ email, classification }, nextOptions(ctx, classification));
    return { record, next: { task: summarize.name, id: run.id } };
  },
});

export const triage = app.task({
  name: 'inbox.triage',
  input: RawEmailSchema,
  queue: 'inbox',
  timeLimit: '5s',
  async run(raw, ctx): Promise<StepResult> {
    const email = parseEmail(raw);
    ctx.log.debug({ messageId: email.messageId, from: email.fromAddress }, 'parsed');
    await ctx.progress(100, { stage: 'parsed' });
    const run = await classify.enqueue({ email }, nextOptions(ctx));
    return { record: recordOf(email, ['triage']), next: { task: classify.name, id: run.id } };
  },
});

function classificationFields(classification: Classification): Partial<TriageRecord> {
  const { category, confidence, needsReply } = classification;
  return { category, confidence, needsReply };
}
