// ioredis listens to each socket's 'error' with once(): a socket that fails twice (a TLS handshake
// refused, then the peer's alert) emits its second error to nobody, and Node turns that into an
// uncaught exception that ends the process (ioredis issue #961, closed unfixed). These connectors are
// ioredis's own with one more, permanent, listener on every socket they open: the first error still
// reaches ioredis, which handles it (reconnects, or reports it to us); later ones are dropped.
import { SentinelConnector, type AbstractConnector, type SentinelConnectionOptions, type StandaloneConnectionOptions } from 'ioredis';
import { StandaloneConnector } from 'ioredis/built/connectors/index.js';

type ConnectArgument = Parameters<AbstractConnector['connect']>[0];
type NetStream = Awaited<ReturnType<AbstractConnector['connect']>>;

const ignore = (): void => undefined;

function guard(stream: NetStream): NetStream {
  stream.on('error', ignore);
  return stream;
}

export class GuardedStandaloneConnector extends StandaloneConnector {
  // ioredis constructs a connector from its options, typed `unknown` by its ConnectorConstructor.
  constructor(options: unknown) {
    super(options as StandaloneConnectionOptions);
  }

  override async connect(argument: ConnectArgument): Promise<NetStream> {
    return guard(await super.connect(argument));
  }
}

export class GuardedSentinelConnector extends SentinelConnector {
  constructor(options: unknown) {
    super(options as SentinelConnectionOptions);
  }

  override async connect(argument: ConnectArgument): Promise<NetStream> {
    return guard(await super.connect(argument));
  }
}
