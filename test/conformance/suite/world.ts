// The harness of the conformance suite: each case gets its own world (a fresh broker URL from the
// target) and everything it opens there (brokers, apps, workers) is closed when the case ends.
import { it } from 'node:test';
import { Celeriac, connectBroker, createLogger } from '../../../src/index.js';
import type { Broker, CeleriacOptions, Worker, WorkerOptions } from '../../../src/index.js';

/** A broker under test: how to get a fresh, empty broker URL for each case, and what it cannot do. */
export interface ConformanceTarget {
  /** Shown in the test names, e.g. 'sqlite'. */
  name: string;
  /** A URL no other case uses, and how to throw it away afterwards. */
  newUrl(): Promise<{ url: string; cleanup(): Promise<void> | void }>;
  /** Cases this broker cannot pass, by exact name, each with the reason written down. */
  skip?: Record<string, string>;
}

export class World {
  private readonly closers: Array<() => Promise<void> | void> = [];

  constructor(readonly url: string) {}

  /** A new broker instance on the world's URL, closed at the end of the case. */
  async broker(): Promise<Broker> {
    const broker = await connectBroker(this.url);
    this.defer(() => broker.close());
    return broker;
  }

  /** A silent app on the world's URL with its broker connected; closed (workers first) at the end. */
  async app(options: Omit<CeleriacOptions, 'broker'> = {}): Promise<Celeriac> {
    const app = new Celeriac({ logger: createLogger({ level: 'silent' }), ...options, broker: this.url });
    this.defer(() => app.close());
    await app.broker();
    return app;
  }

  /** A started worker of `app` that leaves process signals alone; closed with its app. */
  async worker(app: Celeriac, options: WorkerOptions = {}): Promise<Worker> {
    const worker = app.worker({ handleSignals: false, pollInterval: '200ms', ...options });
    await worker.start();
    return worker;
  }

  /** Runs `close` when the case ends, after what was opened later. */
  defer(close: () => Promise<void> | void): void {
    this.closers.push(close);
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const close of this.closers.reverse()) {
      try {
        await close();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

export type CaseBody = (world: World) => Promise<void>;

/** Registers cases for one target, honouring its skips, and remembers every name it registered. */
export class Cases {
  readonly names = new Set<string>();

  constructor(
    private readonly target: ConformanceTarget,
    private readonly timeoutMs = 20_000,
  ) {}

  /** A case named for the behaviour it pins; it runs in a world of its own. */
  case(name: string, body: CaseBody, options: { todo?: string } = {}): void {
    if (this.names.has(name)) throw new Error(`conformance case '${name}' is defined twice`);
    this.names.add(name);
    const skip = this.target.skip?.[name];
    const target = this.target;
    it(name, { skip: skip ?? false, todo: options.todo ?? false, timeout: this.timeoutMs }, async () => {
      const { url, cleanup } = await target.newUrl();
      const world = new World(url);
      try {
        await body(world);
      } finally {
        try {
          await world.close();
        } finally {
          await cleanup();
        }
      }
    });
  }

  /** Fails loudly when a skip names no case (a typo would otherwise silently run the case). */
  assertSkipsKnown(): void {
    const unknown = Object.keys(this.target.skip ?? {}).filter((name) => !this.names.has(name));
    if (unknown.length > 0) {
      throw new Error(`${this.target.name}: skip names unknown conformance cases: ${unknown.join(', ')}`);
    }
  }
}
