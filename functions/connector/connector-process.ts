import { createDefaultIngestDeps } from '#composition/ingest-deps';
import { ConfigError } from '#core/errors';
import type { IngestDeps } from '#core/ingest';
import { awsJsonClientFromEnv, SECRETS_MANAGER } from '#shared/aws-json-client';
import { secretJsonReader } from '#shared/secret-json';
import { type RunningConnector, startConnector } from './connector';
import { DRAIN_MS, loadConnectorConfig } from './connector-config';
import { type ConnectorLogger, defaultConnectorLogger } from './connector-logger';
import { createLongConnections, type LongConnectionBuildOptions } from './platform-connections';

type Env = Readonly<Record<string, string | undefined>>;

export interface ConnectorProcessOptions {
  readonly logger?: ConnectorLogger;
  /** The ingest dependencies. @default the webhook's (`createDefaultIngestDeps`), from the same environment */
  readonly ingest?: (env: Env) => Promise<IngestDeps>;
  /** Passed to `createLongConnections` (tests: a short backoff). */
  readonly connections?: Omit<LongConnectionBuildOptions, 'logger'>;
  /** @default DRAIN_MS */
  readonly drainMs?: number;
  /** Host the health server binds. @default 0.0.0.0 (the ECS health check runs inside the task) */
  readonly healthHost?: string;
}

/**
 * The connector as the ECS task runs it: the environment checked at once (`loadConnectorConfig`), the webhook's
 * ingest dependencies, one supervised long connection per platform (credentials read through the same hand-signed
 * Secrets Manager client as the webhook's, with the task role's credentials), and the health server.
 * @throws ConfigError naming every problem of the environment or of a platform's credentials
 */
export async function startConnectorProcess(
  env: Env,
  options: ConnectorProcessOptions = {},
): Promise<RunningConnector> {
  const logger = options.logger ?? defaultConnectorLogger;
  const config = loadConnectorConfig(env);
  const ingest = await (options.ingest ?? createDefaultIngestDeps)(env);
  const connections = await createLongConnections(config.platforms, env, {
    fetchSecret: secretJsonReader(() => awsJsonClientFromEnv(SECRETS_MANAGER, env)),
    ...options.connections,
    logger,
  });
  return startConnector({
    connections,
    ingest,
    logger,
    health: { port: config.healthPort, ...(options.healthHost ? { host: options.healthHost } : {}) },
    drainMs: options.drainMs ?? DRAIN_MS,
  });
}

/** The part of `process` the signal handling uses; tests pass an EventEmitter and a recording `exit`. */
export interface SignalTarget {
  once(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  removeListener(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
}

/**
 * ECS stops a task with SIGTERM, then SIGKILL after the stop timeout (30 s). The first SIGTERM or SIGINT stops the
 * connector (no new admissions, in-flight ones finish within the drain, sockets and the health server closed) and
 * exits 0; a failing stop exits 1. Later signals are ignored: the drain is already bounded.
 * @returns a function that removes the handlers
 */
export function stopOnSignals(
  connector: Pick<RunningConnector, 'stop'>,
  target: SignalTarget,
  exit: (code: number) => void,
  logger: ConnectorLogger = defaultConnectorLogger,
): () => void {
  let stopping = false;
  const onSignal = (signal: 'SIGTERM' | 'SIGINT') => () => {
    if (stopping) return;
    stopping = true;
    logger.info('connector: stop signal received', { signal });
    connector.stop().then(
      () => exit(0),
      (err: unknown) => {
        logger.error('connector: stop failed', { error: err });
        exit(1);
      },
    );
  };
  const handlers = { SIGTERM: onSignal('SIGTERM'), SIGINT: onSignal('SIGINT') } as const;
  target.once('SIGTERM', handlers.SIGTERM);
  target.once('SIGINT', handlers.SIGINT);
  return () => {
    target.removeListener('SIGTERM', handlers.SIGTERM);
    target.removeListener('SIGINT', handlers.SIGINT);
  };
}

/**
 * `main.ts`: starts the connector and stops it on the ECS stop signal. A start that fails exits 1 with the reason in
 * the log (a ConfigError lists every problem): ECS restarts the task, and the deployment circuit breaker rolls a
 * release that never starts back.
 */
export async function runConnector(
  env: Env,
  target: SignalTarget,
  exit: (code: number) => void,
  options: ConnectorProcessOptions = {},
): Promise<RunningConnector | undefined> {
  const logger = options.logger ?? defaultConnectorLogger;
  try {
    const connector = await startConnectorProcess(env, options);
    stopOnSignals(connector, target, exit, logger);
    return connector;
  } catch (err) {
    if (err instanceof ConfigError) logger.error('connector: invalid configuration', { problems: err.problems });
    else logger.error('connector: start failed', { error: err });
    exit(1);
    return undefined;
  }
}
