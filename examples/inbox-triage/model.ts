// A deterministic local stand-in for an LLM: keyword rules instead of a network call, latencies and
// "rate limited" failures drawn from a PRNG seeded by (message id, operation, attempt), so every run of the
// same inbox behaves the same whatever order the worker happens to run things in. No network, no Math.random.
import { setTimeout as delay } from 'node:timers/promises';

/** A 32-bit string hash (FNV-1a): turns a seed key into a PRNG seed. */
export function hashSeed(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the provider answers when we call it too often: transient, worth retrying after a pause. */
export class RateLimitedError extends Error {
  override readonly name = 'RateLimitedError';
  constructor(
    readonly operation: string,
    readonly retryAfterMs: number,
  ) {
    super(`429 rate limited by the model provider during ${operation}; retry after ${retryAfterMs} ms`);
  }
}

export type Category = 'urgent' | 'action' | 'question' | 'meeting' | 'fyi' | 'newsletter' | 'spam';

export interface Classification {
  category: Category;
  confidence: number;
  needsReply: boolean;
  labels: string[];
}

/** The parts of an email the model reads. */
export interface ModelEmail {
  messageId: string;
  fromName: string;
  fromAddress: string;
  subject: string;
  body: string;
}

export interface CallOptions {
  /** 1-based attempt of the task making the call: decides whether this call is rate limited. */
  attempt: number;
  /** Aborts the simulated request (soft time limit, cancel, shutdown). */
  signal?: AbortSignal;
  /** Called as the "stream" advances, with 0..100. */
  onProgress?: (percent: number, meta: { stage: string; tokens: number }) => Promise<void> | void;
}

export interface ModelOptions {
  /** Changes every latency and which calls get rate limited; default 7. */
  seed?: number;
  /** Share of calls rate limited on their first attempt; default 0.12. A few fail a second time too. */
  rateLimitRate?: number;
  /** Multiplies every latency; default 1 (a few ms to ~150 ms per call). */
  latencyScale?: number;
}

const RULES: Array<[Category, RegExp]> = [
  ['spam', /\b(winner|lottery|crypto|claim your|wire transfer|act now|free gift)\b/i],
  ['urgent', /\b(urgent|asap|outage|down|immediately|escalat\w*|board)\b/i],
  ['meeting', /\b(meeting|calendar|invite|sync|reschedul\w*|agenda)\b/i],
  ['newsletter', /\b(newsletter|digest|weekly|unsubscribe|webinar)\b/i],
  ['action', /\b(please (review|approve|sign|send)|deadline|by (monday|friday|eod)|invoice)\b/i],
  ['question', /\?|\b(could you|can you|do you know|wondering)\b/i],
];

export class LocalModel {
  private readonly seed: number;
  private readonly rateLimitRate: number;
  private readonly latencyScale: number;

  constructor(options: ModelOptions = {}) {
    this.seed = options.seed ?? 7;
    this.rateLimitRate = options.rateLimitRate ?? 0.12;
    this.latencyScale = options.latencyScale ?? 1;
  }

  /** Sorts an email into a category, with a confidence and whether it wants an answer. */
  async classify(email: ModelEmail, options: CallOptions): Promise<Classification> {
    await this.call('classify', email, options, { baseMs: 15, spreadMs: 45, chunks: 2 });
    const text = `${email.subject}\n${email.body}`;
    const rule = RULES.find(([, pattern]) => pattern.test(text));
    const category: Category = rule?.[0] ?? 'fyi';
    const random = this.random(email, 'classify-confidence', 0);
    const needsReply = ['urgent', 'action', 'question', 'meeting'].includes(category);
    const labels = [category, ...(email.fromAddress.endsWith('@acme.example') ? ['internal'] : ['external'])];
    return { category, confidence: Math.round((0.72 + random() * 0.27) * 100) / 100, needsReply, labels };
  }

  /** A one- or two-sentence summary: the first sentences of the body, trimmed. */
  async summarize(email: ModelEmail, options: CallOptions): Promise<string> {
    await this.call('summarize', email, options, { baseMs: 30, spreadMs: 90, chunks: 4 });
    const sentences = email.body
      .replace(/\s+/g, ' ')
      .split(/(?<=[.!?])\s+/)
      .filter((sentence) => sentence.length > 0 && !/^(hi|hello|dear|thanks|best|cheers)\b/i.test(sentence));
    const gist = sentences.slice(0, 2).join(' ');
    return `${email.fromName} writes about "${email.subject}": ${gist.length > 160 ? `${gist.slice(0, 157)}...` : gist}`;
  }

  /** A short, polite reply that fits the category. */
  async draftReply(email: ModelEmail, classification: Classification, options: CallOptions): Promise<string> {
    await this.call('draft_reply', email, options, { baseMs: 40, spreadMs: 110, chunks: 5 });
    const first = email.fromName.split(' ')[0] ?? email.fromName;
    const openers: Record<Category, string> = {
      urgent: "I'm on it now and will update you within the hour.",
      action: "Thanks, I'll take care of this before the deadline.",
      question: "Good question; here's what I know so far, and I'll confirm the details today.",
      meeting: 'That time works for me; I have accepted the invite.',
      fyi: 'Thanks for the heads-up.',
      newsletter: 'Thanks, noted.',
      spam: '',
    };
    return `Hi ${first},\n\n${openers[classification.category]}\n\nRe: ${email.subject}\n\nBest,\nAlex`;
  }

  /** One simulated request: maybe a 429, then a latency spent in `chunks` streamed pieces. */
  private async call(
    operation: string,
    email: ModelEmail,
    options: CallOptions,
    shape: { baseMs: number; spreadMs: number; chunks: number },
  ): Promise<void> {
    const random = this.random(email, operation, options.attempt);
    const failRoll = this.random(email, `${operation}-429`, 0)();
    // Some calls are rate limited on the first attempt; the unluckiest third of those on the second too.
    const limited =
      (options.attempt === 1 && failRoll < this.rateLimitRate) ||
      (options.attempt === 2 && failRoll < this.rateLimitRate / 3);
    if (limited) {
      await this.wait(3 + random() * 5, options.signal);
      throw new RateLimitedError(operation, Math.round(50 + random() * 100));
    }
    const total = (shape.baseMs + random() * shape.spreadMs) * this.latencyScale;
    const tokens = Math.round(total * 2.5);
    for (let chunk = 1; chunk <= shape.chunks; chunk++) {
      await this.wait(total / shape.chunks, options.signal);
      await options.onProgress?.(Math.round((chunk / shape.chunks) * 100), {
        stage: operation,
        tokens: Math.round((tokens * chunk) / shape.chunks),
      });
    }
  }

  private random(email: ModelEmail, operation: string, attempt: number): () => number {
    return prng(hashSeed(`${this.seed}|${email.messageId}|${operation}|${attempt}`));
  }

  private async wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await delay(Math.max(1, Math.round(ms)), undefined, signal ? { signal } : {});
    } catch (error) {
      // Surface why we were stopped (SoftTimeLimitError, TaskCancelledError, ...) rather than a bare AbortError.
      throw signal?.aborted ? signal.reason : error;
    }
  }
}
