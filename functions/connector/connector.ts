import { type AdmitDeliveryDeps, admitDelivery, type DeliveryOutcome } from './admit-delivery';
import { type ConnectorLogger, defaultConnectorLogger } from './connector-logger';
import { type HealthServer, type HealthSnapshot, healthSnapshot, startHealthServer } from './health';
import type { InboundDelivery, LongConnection } from './long-connection';
import { DEFAULT_OPEN_TIMEOUT_MS } from './supervisor';
import { systemTimers, type Timers } from './timers';

export interface ConnectorOptions {
  /** One per platform (`createLongConnections`); each is started here and stopped by `stop`. */
  readonly connections: readonly LongConnection[];
  /** The ingest path's dependencies (the webhook's: `createDefaultIngestDeps`). */
  readonly ingest: AdmitDeliveryDeps['ingest'];
  readonly logger?: ConnectorLogger;
  readonly timers?: Timers;
  /** Serve `GET /healthz` on this port (0: any free one). Omitted: no health server. */
  readonly health?: { readonly port: number; readonly host?: string };
  /** The supervisors' open timeout, which the health rule allows an attempt in flight. @default 30000 */
  readonly openTimeoutMs?: number;
  readonly localRetryDelaysMs?: readonly number[];
  /**
   * How long `stop` lets admissions in flight finish, in all: first with the sockets open (their acks go out), then
   * once more after closing them (for an event that arrived just before). @default 5000
   */
  readonly drainMs?: number;
  /** Sees every delivery's outcome (the sandbox's page and tests). */
  readonly onOutcome?: (delivery: InboundDelivery, outcome: DeliveryOutcome) => void;
}

export interface RunningConnector {
  readonly connections: readonly LongConnection[];
  /** `http://…/healthz`, when a health server runs. */
  readonly healthUrl: string | undefined;
  health(): HealthSnapshot;
  /**
   * Stops accepting events, lets admissions in flight finish (up to `drainMs`), closes every socket and the health
   * server. From the first call, an event of a `redelivered` platform is left unacknowledged for the platform to
   * deliver again (to another replica, or to this one's successor); a `fire-and-forget` platform's event is still
   * admitted until its socket closes, since nothing would deliver it again.
   */
  stop(): Promise<void>;
}

/**
 * The connector service (plain Node; an ECS task in AWS, in-process in the sandbox): starts every long connection,
 * admits each event it delivers through the ingest path and acknowledges it by its platform's rule
 * (`admit-delivery.ts`), and answers health checks. Several replicas may run at once: an event delivered to two of
 * them (a re-push after a reconnect, a retry landing on the other socket) is reserved and enqueued once, by the
 * reservation's conditional put and FIFO deduplication on the event id.
 */
export async function startConnector(options: ConnectorOptions): Promise<RunningConnector> {
  const logger = options.logger ?? defaultConnectorLogger;
  const timers = options.timers ?? systemTimers;
  const openTimeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
  const inFlight = new Set<Promise<unknown>>();
  const deps: AdmitDeliveryDeps = {
    ingest: options.ingest,
    logger,
    timers,
    ...(options.localRetryDelaysMs ? { localRetryDelaysMs: options.localRetryDelaysMs } : {}),
  };
  let draining = false;
  const unsubscribe = options.connections.flatMap((connection) => [
    connection.on('event', (delivery) => {
      if (draining && connection.delivery === 'redelivered') {
        logger.info('connector stopping: delivery left to the platform', {
          platform: delivery.platform,
          deliveryId: delivery.deliveryId,
        });
        return;
      }
      const admission = admitDelivery(delivery, connection.delivery, deps).then(
        (outcome) => options.onOutcome?.(delivery, outcome),
        (err: unknown) => logger.error('long connection event crashed', { platform: delivery.platform, error: err }),
      );
      inFlight.add(admission);
      void admission.finally(() => inFlight.delete(admission));
    }),
    connection.on('connected', () => logger.info('connector: connected', { platform: connection.platform })),
    connection.on('disconnected', (reason) =>
      logger.warn('connector: disconnected', { platform: connection.platform, reason }),
    ),
  ]);
  const health = () =>
    healthSnapshot(
      options.connections.map((c) => c.status()),
      timers.now(),
      openTimeoutMs,
    );
  let server: HealthServer | undefined;
  if (options.health) server = await startHealthServer(health, options.health);
  for (const connection of options.connections) connection.start();
  logger.info('connector started', {
    platforms: options.connections.map((c) => c.platform),
    ...(server ? { health: server.url } : {}),
  });

  let stopping: Promise<void> | undefined;
  return {
    connections: options.connections,
    healthUrl: server?.url,
    health,
    stop: () => {
      stopping ??= (async () => {
        draining = true;
        const deadline = Date.now() + (options.drainMs ?? 5_000);
        await settle(inFlight, deadline);
        await Promise.all(options.connections.map((c) => c.stop()));
        await settle(inFlight, deadline);
        for (const off of unsubscribe) off();
        await server?.close();
        logger.info('connector stopped', inFlight.size > 0 ? { abandonedAdmissions: inFlight.size } : {});
      })();
      return stopping;
    },
  };
}

/**
 * Waits until no admission is in flight (including any that started while waiting) or `deadline` (epoch ms) passes,
 * on the wall clock: the drain bounds how long a stopping process lives, whatever the connector's own timers are.
 */
async function settle(inFlight: ReadonlySet<Promise<unknown>>, deadline: number): Promise<void> {
  while (inFlight.size > 0) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(inFlight),
      new Promise((resolve) => {
        timer = setTimeout(resolve, left);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}
