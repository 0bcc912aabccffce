import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConnectionStatus } from './long-connection';

/** What `GET /healthz` answers (200 when `healthy`, else 503). */
export interface HealthSnapshot {
  readonly healthy: boolean;
  /** Epoch ms of the snapshot. */
  readonly at: number;
  readonly connections: readonly (ConnectionStatus & { readonly healthy: boolean })[];
}

/** Lateness tolerated on a due retry or an open in flight before the connection counts as stuck (event-loop lag). */
export const HEALTH_GRACE_MS = 5_000;

/**
 * A connection is healthy when it is connected, in standby (`leased-connection.ts`), or reconnecting on schedule: its next attempt is not overdue, or the
 * attempt in flight is younger than the open timeout. Failing attempts alone do not make it unhealthy (revoked
 * credentials would only restart the task into the same failure); a retry loop that stopped does, and so does a
 * connection that was never started or was stopped. The check is 200 only when every connection is healthy.
 */
export function connectionHealthy(status: ConnectionStatus, now: number, openTimeoutMs: number): boolean {
  switch (status.state) {
    case 'connected':
    // Another replica holds the connection's lease (or a superseded holder pauses on purpose): nothing to restart.
    case 'standby':
      return true;
    case 'connecting':
    case 'reconnecting':
      if (status.nextAttemptAt !== undefined) return now <= status.nextAttemptAt + HEALTH_GRACE_MS;
      if (status.attemptStartedAt !== undefined) {
        return now - status.attemptStartedAt <= openTimeoutMs + HEALTH_GRACE_MS;
      }
      return false;
    default:
      return false;
  }
}

export function healthSnapshot(
  statuses: readonly ConnectionStatus[],
  now: number,
  openTimeoutMs: number,
): HealthSnapshot {
  const connections = statuses.map((status) => ({ ...status, healthy: connectionHealthy(status, now, openTimeoutMs) }));
  return { healthy: connections.length > 0 && connections.every((c) => c.healthy), at: now, connections };
}

export interface HealthServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `GET /healthz` (the ECS/ALB health check) from `snapshot`; anything else is 404. */
export function startHealthServer(
  snapshot: () => HealthSnapshot,
  options: { readonly port: number; readonly host?: string },
): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' || path !== '/healthz') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end('{"error":"not_found"}');
    }
    const body = snapshot();
    res.writeHead(body.healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  });
  const host = options.host ?? '0.0.0.0';
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/healthz`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
