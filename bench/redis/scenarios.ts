// The Redis benchmarks of docs/benchmarks.md: Celeriac vs BullMQ vs Bee-Queue on one redis-server that this
// harness starts, no-op tasks, 20,000 tasks, concurrency 50, producer and worker in one process and then in
// two. Every scenario starts from FLUSHALL with freshly opened clients, and closes them at its end.
import { fileURLToPath } from 'node:url';
import { startRedisServer } from '../../test/support/redis-server.js';
import { clockMs, formatRate, JsonChild, median, quantile } from '../support.js';
import {
  LIBRARIES,
  LIBRARY_TITLES,
  LibraryUnavailableError,
  openQueue,
  type BenchInput,
  type Library,
  type QueueUnderTest,
  type RedisTarget,
} from './adapter.js';
import { commandDelta, RedisInfo } from './redis-info.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 1_000);
/** Latency rounds: more than the throughput rounds, since a latency p50 varies by ±15% from one run to the next. */
const LATENCY_ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 5);
/**
 * The pause before each task of the spaced latency runs: longer than anything a library does after a
 * task (storing its result, events, the producer's reads), so every process is asleep when the task
 * is sent, as when tasks arrive now and then.
 */
const SPACED_GAP_MS = Number(process.env.BENCH_LATENCY_GAP_MS ?? 2);
const MEMORY_TASKS = Number(process.env.BENCH_MEMORY_TASKS ?? 100_000);
/** Producers of the one-at-a-time scenario, each sending its next task once Redis acknowledged its last. */
const SINGLE_PRODUCERS = Number(process.env.BENCH_SINGLE_PRODUCERS ?? 16);
const CONCURRENCY = 50;
/** Untimed tasks before a latency run's samples. */
const WARM_UP_TASKS = 50;
/**
 * Untimed tasks before the samples of the "warm" latency runs. A cross-process round starts a new worker
 * process, whose first thousand or so tasks run while V8 is still compiling its hot path on background
 * threads; on this machine those threads share the one CPU that a one-at-a-time loop's processes are
 * packed onto, and a library with more code on its path pays more (docs/benchmarks.md, nineteenth
 * session). A long-lived worker, as in production, is past that: these runs measure it.
 */
const WARM_TASKS = Number(process.env.BENCH_LATENCY_WARM_TASKS ?? 2_000);
/**
 * Node options for every worker child process, of every library alike (space-separated): a diagnostic,
 * none by default. `--interrupt-budget=8192`, say, makes V8 compile hot functions after fewer calls,
 * which shows how much of a young worker's latency is its compiling (docs/benchmarks.md, twenty-third
 * session).
 */
const WORKER_NODE_OPTIONS = (process.env.BENCH_WORKER_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
const SCENARIO_DEADLINE_MS = 120_000;
const CHILD = fileURLToPath(new URL('./worker-child.ts', import.meta.url));

/** A rate measured in rounds (see runRedisBenchmarks): the median, each round's figure, and its round. */
export interface Rate {
  perSecond: number;
  rounds: number[];
  /** The round each of `rounds` was measured in: ratios compare the libraries round by round. */
  roundNumbers: number[];
}
export interface Processing extends Rate {
  /** Redis commands per task over enqueue + processing (median of rounds), and each round's figure. */
  commandsPerTask: number;
  commandRounds: number[];
  /** The commands of the last round, most frequent first. */
  commands: Record<string, number>;
}
/** One round of a processing scenario. */
interface ProcessingRound {
  perSecond: number;
  commandsPerTask: number;
  commands: Record<string, number>;
}
/** One round of the one-at-a-time scenario. */
interface SingleRound extends ProcessingRound {
  redisCpuUs: number;
  workerCpuUs?: number;
}
export interface SingleEnqueue extends Processing {
  /** Redis's CPU time per task (INFO cpu, median of rounds), and each round's figure, in microseconds. */
  redisCpuUsPerTask: number;
  redisCpuRounds: number[];
  /** With the worker in a child process: that process's CPU time per task (median of rounds), in microseconds. */
  workerCpuUsPerTask?: number;
  producers: number;
}
export interface Latency {
  p50: number;
  p99: number;
  /**
   * The producer's round trip p50: from its enqueue call to the result in hand (the library's way of
   * waiting for one: `enqueueAndWait`), on the producer's clock only.
   */
  roundTripP50: number;
  /**
   * Each round's figures, by round number (in a round the libraries run this mode one after another;
   * p50 and p99 are the medians of the rounds, ratios the medians of the rounds' ratios).
   */
  rounds?: Array<{ round: number; p50: number; p99: number; roundTripP50: number }>;
}
export interface LibraryResults {
  available: boolean;
  reason?: string;
  errors?: Record<string, string>;
  bulkEnqueue?: Rate;
  processing?: Processing;
  latency?: Latency;
  memory?: { bytesPer100k: number; tasks: number; bytes: number };
  /** TASKS tasks sent one at a time by SINGLE_PRODUCERS producers while one worker runs them. */
  singleEnqueue?: SingleEnqueue;
  singleEnqueueCrossProcess?: SingleEnqueue;
  processingCrossProcess?: Processing;
  latencyCrossProcess?: Latency;
  /** The same after WARM_TASKS untimed tasks instead of WARM_UP_TASKS: a long-lived worker. */
  latencyWarm?: Latency;
  latencyWarmCrossProcess?: Latency;
  /** The same with a pause before each task (SPACED_GAP_MS): every process idle when it is sent. */
  latencySpaced?: Latency;
  latencySpacedCrossProcess?: Latency;
}
export interface RedisResults {
  redisVersion: string;
  tasks: number;
  rounds: number;
  concurrency: number;
  latencySamples: number;
  latencyRounds: number;
  memoryTasks: number;
  latencyGapMs: number;
  latencyWarmUpTasks: number;
  latencyWarmTasks: number;
  libraries: Record<Library, LibraryResults>;
  /** True when a scenario overran its deadline and may have left clients open: exit explicitly. */
  leftOpen: boolean;
}

/** A scenario that overran SCENARIO_DEADLINE_MS; its library's remaining scenarios are skipped. */
class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

const inputs = (count: number, from = 0): BenchInput[] => Array.from({ length: count }, (_, i) => ({ i: from + i }));

class Bench {
  leftOpen = false;

  constructor(
    private readonly target: RedisTarget,
    private readonly info: RedisInfo,
  ) {}

  /** Worker processes of the running scenario, stopped at its end even if it overran its deadline. */
  private readonly children = new Set<JsonChild>();

  /** FLUSHALL, then a fresh adapter for `body`, closed afterwards; `body` must finish within the deadline. */
  async scenario<T>(library: Library, body: (queue: QueueUnderTest) => Promise<T>): Promise<T> {
    await this.info.flush();
    const queue = await openQueue(library, this.target);
    let timer: NodeJS.Timeout | undefined;
    let overran = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        overran = this.leftOpen = true;
        reject(new DeadlineError(`scenario did not finish within ${SCENARIO_DEADLINE_MS / 1000} s`));
      }, SCENARIO_DEADLINE_MS);
    });
    const work = body(queue);
    work.catch(() => undefined); // Still awaited below; this only keeps a late failure after the deadline quiet.
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
      await Promise.all([...this.children].map(stopChild));
      this.children.clear();
      // A library that hung may hang in close too: try, but do not wait.
      if (overran) void queue.close().catch(() => undefined);
      else await queue.close();
    }
  }

  private spawnWorker(library: Library, mode: 'process' | 'latency' | 'stream', count: number): JsonChild {
    const child = new JsonChild(CHILD, [library, this.target.host, String(this.target.port), mode, String(count)], WORKER_NODE_OPTIONS);
    this.children.add(child);
    return child;
  }

  /** One round of the library's bulk call with TASKS tasks, after one untimed call of as many. */
  bulkEnqueueRound(library: Library): Promise<number> {
    return this.scenario(library, async (queue) => {
      await queue.enqueueBulk(inputs(TASKS));
      const batch = inputs(TASKS, TASKS);
      const started = performance.now();
      await queue.enqueueBulk(batch);
      return TASKS / ((performance.now() - started) / 1000);
    });
  }

  /** One round of TASKS queued tasks drained by one worker (here, or in a child process). */
  processingRound(library: Library, crossProcess: boolean): Promise<ProcessingRound> {
    return this.scenario(library, async (queue) => {
      const before = await this.info.commandCalls();
      await queue.enqueueBulk(inputs(TASKS));
      let ms: number;
      if (crossProcess) {
        const child = this.spawnWorker(library, 'process', TASKS);
        ms = (await child.next('processed', SCENARIO_DEADLINE_MS)).ms as number;
        await stopChild(child);
      } else {
        const started = performance.now();
        const worker = await queue.startWorker({ concurrency: CONCURRENCY, onStart: () => {} });
        await worker.finished(TASKS);
        ms = performance.now() - started;
        await worker.close();
      }
      const delta = commandDelta(before, await this.info.commandCalls());
      const completed = await queue.completedCount();
      if (completed !== TASKS) throw new Error(`expected ${TASKS} completed, ${LIBRARY_TITLES[library]} reports ${completed}`);
      return { perSecond: TASKS / (ms / 1000), commandsPerTask: delta.total / TASKS, commands: delta.byCommand };
    });
  }

  /**
   * One round of TASKS tasks sent with the library's single enqueue by SINGLE_PRODUCERS producers, each
   * sending its next once its last was acknowledged, while one worker (c=50, started first; here, or in
   * a child process) runs them: how agents send tasks. Tasks per second from the first send to the last
   * finish, and what it cost Redis (CPU time and commands per task) and a worker process.
   */
  singleEnqueueRound(library: Library, crossProcess: boolean): Promise<SingleRound> {
    return this.scenario(library, async (queue) => {
      let finished: () => Promise<number | undefined>;
      if (crossProcess) {
        const child = this.spawnWorker(library, 'stream', TASKS);
        await child.next('online');
        const processed = child.next('processed', SCENARIO_DEADLINE_MS);
        processed.catch(() => undefined); // Awaited below; a failure before then is reported there.
        // The child reports once its worker has closed (every result stored); its exit is not timed
        // (the scenario stops its children at its end).
        finished = async () => (await processed).cpuUsPerTask as number;
      } else {
        const worker = await queue.startWorker({ concurrency: CONCURRENCY, onStart: () => {} });
        finished = async () => {
          await worker.finished(TASKS);
          await worker.close();
          return undefined;
        };
      }
      const before = await this.info.commandCalls();
      const cpuBefore = await this.info.cpuSeconds();
      const started = performance.now();
      let sent = 0;
      await Promise.all(
        Array.from({ length: SINGLE_PRODUCERS }, async () => {
          while (sent < TASKS) await queue.enqueueOne({ i: sent++ });
        }),
      );
      const workerCpuUs = await finished();
      const ms = performance.now() - started;
      const cpu = (await this.info.cpuSeconds()) - cpuBefore;
      const delta = commandDelta(before, await this.info.commandCalls());
      const completed = await queue.completedCount();
      if (completed !== TASKS) throw new Error(`expected ${TASKS} completed, ${LIBRARY_TITLES[library]} reports ${completed}`);
      return {
        perSecond: TASKS / (ms / 1000),
        commandsPerTask: delta.total / TASKS,
        commands: delta.byCommand,
        redisCpuUs: (cpu * 1e6) / TASKS,
        ...(workerCpuUs === undefined ? {} : { workerCpuUs }),
      };
    });
  }

  /**
   * Enqueue-to-start of one task at a time on an idle worker, after `warmUp` untimed tasks; each task is
   * sent once the previous one finished, or `gapMs` after that. Also each task's round trip, enqueue to
   * result, as its producer waits for it.
   */
  latency(library: Library, crossProcess: boolean, gapMs = 0, warmUp = WARM_UP_TASKS): Promise<Latency> {
    return this.scenario(library, async (queue) => {
      const latencies: number[] = [];
      const roundTrips: number[] = [];
      let child: JsonChild | undefined;
      let report: Promise<Record<string, unknown>> | undefined;
      if (crossProcess) {
        child = this.spawnWorker(library, 'latency', LATENCY_SAMPLES);
        await child.next('online');
        report = child.next('latency', SCENARIO_DEADLINE_MS);
        report.catch(() => undefined); // Awaited at the end; a failure before then is reported by that await.
      } else {
        await queue.startWorker({
          concurrency: CONCURRENCY,
          onStart: (input) => void (input.sentAt !== undefined && latencies.push(clockMs() - input.sentAt)),
        });
      }
      for (let i = 0; i < warmUp; i++) await queue.enqueueAndWait({ i });
      for (let i = 0; i < LATENCY_SAMPLES; i++) {
        if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
        const sentAt = clockMs();
        await queue.enqueueAndWait({ sentAt });
        roundTrips.push(clockMs() - sentAt);
      }
      const roundTripP50 = quantile(roundTrips, 0.5);
      if (report) {
        const { p50, p99 } = await report;
        return { p50: p50 as number, p99: p99 as number, roundTripP50 };
      }
      return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), roundTripP50 };
    });
  }

  /** used_memory after enqueueing MEMORY_TASKS (10,000 per bulk call) minus before, per 100,000 tasks. */
  memory(library: Library): Promise<{ bytesPer100k: number; tasks: number; bytes: number }> {
    return this.scenario(library, async (queue) => {
      const before = await this.info.usedMemory();
      for (let sent = 0; sent < MEMORY_TASKS; sent += 10_000) {
        await queue.enqueueBulk(inputs(Math.min(10_000, MEMORY_TASKS - sent), sent));
      }
      const bytes = (await this.info.usedMemory()) - before;
      return { bytesPer100k: (bytes * 100_000) / MEMORY_TASKS, tasks: MEMORY_TASKS, bytes };
    });
  }
}

/** SIGTERM, then SIGKILL if the child has not exited within 10 s. */
async function stopChild(child: JsonChild): Promise<void> {
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 10_000);
  await child.stop();
  clearTimeout(timer);
}

interface LatencyMode {
  crossProcess: boolean;
  /** Back-to-back after a short warm-up, back-to-back after WARM_TASKS, or spaced. */
  kind: 'back-to-back' | 'warm' | 'spaced';
}
const latencyName = ({ crossProcess, kind }: LatencyMode) =>
  `latency ${kind === 'back-to-back' ? '' : `${kind} `}${crossProcess ? 'cross-proc' : 'in-process'}`;
const LATENCY_FIELDS = {
  'back-to-back': ['latency', 'latencyCrossProcess'],
  warm: ['latencyWarm', 'latencyWarmCrossProcess'],
  spaced: ['latencySpaced', 'latencySpacedCrossProcess'],
} as const;

type Measure = <T>(what: string, run: () => Promise<T>, show: (value: T) => string) => Promise<T | undefined>;

/** What each round of a scenario measured, by round number. */
type Measured<T> = Array<{ round: number; value: T }>;

/** A throughput scenario measured in rounds: one round's run and line, and where its rounds go. */
interface ThroughputScenario {
  what: string;
  run: (library: Library) => Promise<unknown>;
  show: (value: unknown) => string;
  store: (r: LibraryResults, measured: Measured<unknown>) => void;
}

interface Summaries {
  rate: (value: Rate) => string;
  processed: (value: Processing) => string;
  oneAtATime: (value: SingleEnqueue) => string;
}

function rateOf(measured: Measured<number>): Rate {
  const rounds = measured.map((m) => m.value);
  return { perSecond: median(rounds), rounds, roundNumbers: measured.map((m) => m.round) };
}

function processingOf(measured: Measured<ProcessingRound>): Processing {
  const commandRounds = measured.map((m) => m.value.commandsPerTask);
  return {
    ...rateOf(measured.map(({ round, value }) => ({ round, value: value.perSecond }))),
    commandsPerTask: median(commandRounds),
    commandRounds,
    commands: measured[measured.length - 1]!.value.commands,
  };
}

function singleOf(measured: Measured<SingleRound>): SingleEnqueue {
  const redisCpuRounds = measured.map((m) => m.value.redisCpuUs);
  const workerCpu = measured.flatMap((m) => (m.value.workerCpuUs === undefined ? [] : [m.value.workerCpuUs]));
  return {
    ...processingOf(measured),
    redisCpuUsPerTask: median(redisCpuRounds),
    redisCpuRounds,
    ...(workerCpu.length > 0 ? { workerCpuUsPerTask: median(workerCpu) } : {}),
    producers: SINGLE_PRODUCERS,
  };
}

/** One round's line of a processing or one-at-a-time scenario. */
function showRound(value: unknown): string {
  const round = value as SingleRound;
  let text = `${formatRate(round.perSecond)}; ${round.commandsPerTask.toFixed(2)} commands/task`;
  if (round.redisCpuUs !== undefined) text += `; Redis CPU ${round.redisCpuUs.toFixed(1)} us/task`;
  if (round.workerCpuUs !== undefined) text += `; worker process CPU ${round.workerCpuUs.toFixed(1)} us/task`;
  return text;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const ms = (value: number) => `${value.toFixed(3)} ms`;
const latencyText = (value: Latency) => `p50 ${ms(value.p50)}  p99 ${ms(value.p99)}  round trip p50 ${ms(value.roundTripP50)}`;

/**
 * Runs the Redis benchmarks on one redis-server: `inProcess` (BENCH_ONLY name `redis`: bulk enqueue,
 * processing, latency, memory) and `crossProcess` (`redis-x`: processing and latency with the worker in a
 * child process). Prints a line per figure as it is measured.
 */
export async function runRedisBenchmarks(options: { inProcess: boolean; crossProcess: boolean }): Promise<RedisResults> {
  const server = await startRedisServer();
  const target: RedisTarget = { host: '127.0.0.1', port: server.port };
  const info = new RedisInfo(target);
  const bench = new Bench(target, info);
  try {
    await info.connect();
    const results: RedisResults = {
      redisVersion: await info.version(),
      tasks: TASKS,
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
      latencySamples: LATENCY_SAMPLES,
      latencyRounds: LATENCY_ROUNDS,
      memoryTasks: MEMORY_TASKS,
      latencyGapMs: SPACED_GAP_MS,
      latencyWarmUpTasks: WARM_UP_TASKS,
      latencyWarmTasks: WARM_TASKS,
      libraries: {} as Record<Library, LibraryResults>,
      leftOpen: false,
    };
    const only = process.env.BENCH_REDIS_LIBRARIES?.split(',');
    const measurers = new Map<Library, Measure>();
    const summaries = new Map<Library, Summaries>();
    for (const library of LIBRARIES.filter((l) => !only || only.includes(l))) {
      const title = LIBRARY_TITLES[library];
      const r: LibraryResults = { available: true };
      results.libraries[library] = r;
      const line = (what: string, text: string) => console.log(`redis   ${title.padEnd(9)} ${what.padEnd(26)} ${text}`);
      const measure: Measure = async <T>(what: string, run: () => Promise<T>, show: (value: T) => string): Promise<T | undefined> => {
        if (!r.available || r.errors?.deadline) return undefined;
        try {
          const value = await run();
          line(what, show(value));
          return value;
        } catch (error) {
          if (error instanceof LibraryUnavailableError) {
            r.available = false;
            r.reason = error.message;
            console.log(`${library}: broker not available (${error.message})`);
          } else {
            const message = error instanceof Error ? error.message : String(error);
            (r.errors ??= {})[what] = message;
            if (error instanceof DeadlineError) r.errors.deadline = `${what}: ${message}; later scenarios skipped`;
            line(what, `FAILED: ${message}`);
          }
          return undefined;
        }
      };
      const rate = (value: Rate) => `${formatRate(value.perSecond)}  (rounds: ${value.rounds.map(formatRate).join(', ')})`;
      const processed = (value: Processing) => `${rate(value)}; ${value.commandsPerTask.toFixed(2)} commands/task`;
      const oneAtATime = (value: SingleEnqueue) =>
        `${processed(value)}; Redis CPU ${value.redisCpuUsPerTask.toFixed(1)} us/task (rounds: ${value.redisCpuRounds.map((v) => v.toFixed(1)).join(', ')})` +
        (value.workerCpuUsPerTask === undefined ? '' : `; worker process CPU ${value.workerCpuUsPerTask.toFixed(1)} us/task`);
      measurers.set(library, measure);
      summaries.set(library, { rate, processed, oneAtATime });
      if (options.inProcess) {
        r.memory = await measure(`memory per 100,000 queued`, () => bench.memory(library), (value) => mb(value.bytesPer100k));
      }
    }
    // Throughput in rounds, as latency below: in each round every scenario runs for each library in turn,
    // in an order that rotates from round to round, and a ratio is the median of the rounds' ratios
    // (until the fifteenth session each library ran all its rounds in a row, so a machine that slowed
    // during the run weighed on the libraries measured last).
    const order = [...measurers.keys()];
    const scenarios: ThroughputScenario[] = [];
    if (options.inProcess) {
      scenarios.push(
        {
          what: 'bulk enqueue',
          run: (library) => bench.bulkEnqueueRound(library),
          show: (value) => formatRate(value as number),
          store: (r, measured) => (r.bulkEnqueue = rateOf(measured as Measured<number>)),
        },
        {
          what: 'processing (c=50)',
          run: (library) => bench.processingRound(library, false),
          show: showRound,
          store: (r, measured) => (r.processing = processingOf(measured as Measured<ProcessingRound>)),
        },
        {
          what: `one at a time (${SINGLE_PRODUCERS} producers)`,
          run: (library) => bench.singleEnqueueRound(library, false),
          show: showRound,
          store: (r, measured) => (r.singleEnqueue = singleOf(measured as Measured<SingleRound>)),
        },
      );
    }
    if (options.crossProcess) {
      scenarios.push(
        {
          what: 'processing cross-proc',
          run: (library) => bench.processingRound(library, true),
          show: showRound,
          store: (r, measured) => (r.processingCrossProcess = processingOf(measured as Measured<ProcessingRound>)),
        },
        {
          what: 'one at a time cross-proc',
          run: (library) => bench.singleEnqueueRound(library, true),
          show: showRound,
          store: (r, measured) => (r.singleEnqueueCrossProcess = singleOf(measured as Measured<SingleRound>)),
        },
      );
    }
    const measuredRounds = new Map<string, Measured<unknown>>();
    for (let round = 0; round < ROUNDS; round++) {
      const turn = order.map((_, i) => order[(i + round) % order.length]!);
      for (const scenario of scenarios) {
        for (const library of turn) {
          const value = await measurers.get(library)!(`${scenario.what} ${round + 1}/${ROUNDS}`, () => scenario.run(library), scenario.show);
          const key = `${library}:${scenario.what}`;
          if (value !== undefined) measuredRounds.set(key, [...(measuredRounds.get(key) ?? []), { round, value }]);
        }
      }
    }
    for (const [library, measure] of measurers) {
      const r = results.libraries[library];
      const show = summaries.get(library)!;
      for (const scenario of scenarios) {
        const measured = measuredRounds.get(`${library}:${scenario.what}`);
        if (!measured || measured.length === 0) continue;
        scenario.store(r, measured);
      }
      if (r.bulkEnqueue) await measure('bulk enqueue', () => Promise.resolve(r.bulkEnqueue!), show.rate);
      if (r.processing) await measure('processing (c=50)', () => Promise.resolve(r.processing!), show.processed);
      if (r.singleEnqueue) await measure(`one at a time (${SINGLE_PRODUCERS} producers)`, () => Promise.resolve(r.singleEnqueue!), show.oneAtATime);
      if (r.processingCrossProcess) await measure('processing cross-proc', () => Promise.resolve(r.processingCrossProcess!), show.processed);
      if (r.singleEnqueueCrossProcess) await measure('one at a time cross-proc', () => Promise.resolve(r.singleEnqueueCrossProcess!), show.oneAtATime);
    }
    // Latency last, in rounds. In each round every mode is measured for each library in turn, the
    // libraries one right after another (so a machine whose speed drifts during the run, as this shared
    // one does by tens of percent, weighs on all alike), and in an order that rotates from round to round
    // (so no library is always the one that runs first, or right after another one's child process).
    // Back-to-back (each task sent as soon as the previous one finished), the same after a long warm-up
    // (WARM_TASKS), and spaced (SPACED_GAP_MS later).
    const modes: LatencyMode[] = [];
    for (const kind of ['back-to-back', 'warm', 'spaced'] as const) {
      if (options.inProcess) modes.push({ crossProcess: false, kind });
      if (options.crossProcess) modes.push({ crossProcess: true, kind });
    }
    const rounds = new Map<string, Required<Latency>['rounds']>();
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      const turn = order.map((_, i) => order[(i + round) % order.length]!);
      for (const mode of modes) {
        for (const library of turn) {
          const what = `${latencyName(mode)} ${round + 1}/${LATENCY_ROUNDS}`;
          const gapMs = mode.kind === 'spaced' ? SPACED_GAP_MS : 0;
          const warmUp = mode.kind === 'warm' ? WARM_TASKS : WARM_UP_TASKS;
          const value = await measurers.get(library)!(what, () => bench.latency(library, mode.crossProcess, gapMs, warmUp), latencyText);
          const key = `${library}:${latencyName(mode)}`;
          if (value) rounds.set(key, [...(rounds.get(key) ?? []), { round, p50: value.p50, p99: value.p99, roundTripP50: value.roundTripP50 }]);
        }
      }
    }
    for (const [library, measure] of measurers) {
      const r = results.libraries[library];
      for (const mode of modes) {
        const measured = rounds.get(`${library}:${latencyName(mode)}`);
        if (!measured || measured.length === 0) continue;
        const value: Latency = {
          p50: median(measured.map((m) => m.p50)),
          p99: median(measured.map((m) => m.p99)),
          roundTripP50: median(measured.map((m) => m.roundTripP50)),
          rounds: measured,
        };
        r[LATENCY_FIELDS[mode.kind][mode.crossProcess ? 1 : 0]] = value;
        await measure(latencyName(mode), () => Promise.resolve(value), latencyText);
      }
    }
    results.leftOpen = bench.leftOpen;
    return results;
  } finally {
    await info.close().catch(() => undefined);
    await server.stop();
  }
}
