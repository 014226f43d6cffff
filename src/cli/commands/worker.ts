// `celeriac worker -A ./tasks.ts`: runs a worker for the module's app until SIGINT/SIGTERM, then shuts
// down gracefully (finish active tasks up to --shutdown-timeout, hand the rest back) and exits 0.
// A second signal exits at once (130/143); the leases of tasks still held then expire and they rerun.
// One task's stray promise or callback does not take the others down with the process: an unhandled
// rejection is logged and the worker runs on; an uncaught exception shuts it down gracefully, exit 70.
import { Option, type Command } from 'commander';
import type { Celeriac, Logger, Worker } from '../../index.js';
import { ExitCode } from '../exit-codes.js';
import { LiveStatus } from '../live-status.js';
import { loadApp } from '../load-app.js';
import { parseDuration, parseList, parseLogLevel, parseNonNegativeInt, parsePositiveInt, withCommonOptions, type CommonOptions, type Finish } from '../options.js';
import { createWorkerLogger, type LogFormat } from '../worker-logger.js';

interface WorkerFlags extends CommonOptions {
  queues?: string[];
  concurrency?: number;
  prefetch?: number;
  name?: string;
  logLevel?: string;
  logFormat: LogFormat;
  leaseTime?: string;
  shutdownTimeout?: string;
  heartbeatInterval?: string;
  maintenance: boolean;
  status: boolean;
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function workerCommand(program: Command, finish: Finish): void {
  const command = program
    .command('worker')
    .description('run a worker for the tasks of the -A app module')
    .option('-Q, --queues <list>', "queues to consume, comma-separated, strict priority in this order (default: 'default')", parseList)
    .option('-c, --concurrency <n>', 'tasks run at once (default: 10)', parsePositiveInt)
    .option('--prefetch <n>', 'leased tasks that may wait for a slot, never more than finished in the last 100 ms; 0: none (default: 1000)', parseNonNegativeInt)
    .option('-n, --name <name>', 'worker name; %h host, %n short host, %d domain, %i pid (default: celeriac@%h)')
    .option('-l, --log-level <level>', 'trace|debug|info|warn|error|fatal|silent (default: $CELERIAC_LOG_LEVEL, else info)', parseLogLevel)
    .addOption(new Option('--log-format <format>', 'pretty on a terminal, JSON lines otherwise').choices(['auto', 'json', 'pretty']).default('auto'))
    .option('--lease-time <duration>', 'lease on each active task, renewed every third of it (default: 30s)', parseDuration)
    .option('--shutdown-timeout <duration>', 'on shutdown, how long active tasks may finish (default: 30s)', parseDuration)
    .option('--heartbeat-interval <duration>', 'between heartbeats (default: 2s)', parseDuration)
    .option('--no-maintenance', 'do not run the maintenance services (maintainer, pruner) in this worker')
    .option('--no-status', 'no live count line on a terminal');
  withCommonOptions(command, { json: false }).action(async (flags: WorkerFlags) => finish(await runWorker(flags)));
}

async function runWorker(flags: WorkerFlags): Promise<number> {
  const { app } = await loadApp(flags, { requireModule: true });
  const status = new LiveStatus(process.stderr, flags.status);
  const level = flags.logLevel ?? parseLogLevel(process.env.CELERIAC_LOG_LEVEL || 'info');
  const logger = createWorkerLogger({ level, format: flags.logFormat, status });
  const stop = stopSignal(logger);
  const crash = guardProcess(logger);
  try {
    const worker = app.worker(workerOptions(flags, logger));
    await worker.start();
    status.start(app, worker);
    const reason = await Promise.race([stop, crash]);
    await shutdown(app, worker, status);
    return reason === 'crash' ? ExitCode.Internal : ExitCode.Ok;
  } catch (error) {
    status.stop();
    await app.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Keeps one task's stray failure from ending the process with every other task in it (and leaving
 * them to wait for their leases to expire): an unhandled rejection is logged and the worker runs on,
 * as a Celery worker would; an uncaught exception resolves the returned promise, so the worker shuts
 * down gracefully (Node's advice: state after one cannot be trusted), and a second one exits at once.
 */
function guardProcess(logger: Logger): Promise<'crash'> {
  return new Promise((resolve) => {
    process.on('unhandledRejection', (reason: unknown) => {
      logger.error({ err: reason }, 'unhandled promise rejection (a promise nobody awaited or caught, likely in a task); the worker runs on');
    });
    let crashed = false;
    process.on('uncaughtException', (error: Error) => {
      if (crashed) {
        logger.fatal({ err: error }, 'uncaught exception during the shutdown; exiting at once');
        process.exit(ExitCode.Internal);
      }
      crashed = true;
      logger.fatal({ err: error }, 'uncaught exception; shutting down gracefully: running tasks may finish, the rest are handed back');
      resolve('crash');
    });
  });
}

function workerOptions(flags: WorkerFlags, logger: Logger): Parameters<Celeriac['worker']>[0] {
  return {
    queues: flags.queues,
    concurrency: flags.concurrency,
    prefetch: flags.prefetch,
    name: flags.name,
    leaseTime: flags.leaseTime,
    shutdownTimeout: flags.shutdownTimeout,
    heartbeatInterval: flags.heartbeatInterval,
    maintenance: flags.maintenance,
    handleSignals: false,
    logger,
  };
}

/** Resolves on the first SIGINT/SIGTERM; a second one exits at once. */
function stopSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      logger.info({ signal }, 'shutting down gracefully (send the signal again to stop at once)');
      for (const again of ['SIGINT', 'SIGTERM'] as const) process.once(again, () => process.exit(SIGNAL_EXIT[again]));
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function shutdown(app: Celeriac, worker: Worker, status: LiveStatus): Promise<void> {
  await worker.close();
  status.stop();
  await app.close();
}
