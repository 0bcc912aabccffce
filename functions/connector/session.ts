import type { InboundDelivery } from './long-connection';

/**
 * One physical socket of a long connection, as a platform client opens it (`slack-socket-mode.ts`,
 * `dingtalk-stream.ts`, `feishu-ws.ts`). The supervisor (`supervisor.ts`) owns retries, so a session never reconnects
 * by itself. Resolves once the socket is ready for events; `signal` aborts an open that took too long (the opener then
 * closes whatever it had opened and rejects).
 */
export type OpenSession = (callbacks: SessionCallbacks, signal: AbortSignal) => Promise<OpenedSession>;

/** What a session reports to its supervisor. Each is called from the socket's event loop and must not throw. */
export interface SessionCallbacks {
  /** An event arrived; the supervisor hands it to the connector, which admits and acknowledges it. */
  delivery(delivery: Omit<InboundDelivery, 'platform'>): void;
  /**
   * The platform announced it will close this socket soon (Slack `disconnect`, DingTalk SYSTEM `disconnect`; Feishu
   * announces nothing): open a replacement now, while this one still works.
   */
  retiring(reason: string): void;
  /** A frame that is not the protocol's (not JSON, unknown type, missing fields): logged and skipped. */
  badFrame(reason: string, bytes: number): void;
  /** The socket closed, for whatever reason; called at most once, and only after the open resolved. */
  closed(reason: string): void;
}

export interface OpenedSession {
  /** Closes the socket (with a close handshake where possible); resolves once it is closed. Idempotent. */
  close(): Promise<void>;
}

/** Which step of opening failed. */
export type OpenStage = 'discovery' | 'connect' | 'handshake';

/**
 * Opening a socket failed: the discovery call (`apps.connections.open`, `gateway/connections/open`), the WebSocket
 * upgrade, or the protocol's greeting. The message names status codes and platform error codes, never credentials.
 */
export class ConnectionOpenError extends Error {
  constructor(
    readonly stage: OpenStage,
    message: string,
    /** HTTP status of a refused discovery or upgrade, when there was one. */
    readonly status?: number,
    options?: { readonly cause?: unknown; readonly retryAfterMs?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectionOpenError';
    this.retryAfterMs = options?.retryAfterMs;
  }

  /** The platform asked to wait this long before the next attempt (HTTP 429 `Retry-After`). */
  readonly retryAfterMs: number | undefined;
}

/** A short reason for logs and status from anything an open rejected with. */
export function describeFailure(err: unknown): string {
  if (err instanceof ConnectionOpenError) return `${err.stage}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
