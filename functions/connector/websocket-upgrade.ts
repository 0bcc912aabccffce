import type { ClientRequest, IncomingMessage } from 'node:http';
import { type RawData, WebSocket } from 'ws';
import { ConnectionOpenError } from './session';
import type { Timers } from './timers';

/**
 * Resolves once the socket's upgrade succeeded; rejects with `ConnectionOpenError` ('connect', with the server's HTTP
 * status when it refused the upgrade, e.g. a spent or expired ticket) or, on abort, 'handshake'. The socket is
 * terminated on failure. `refusal` reads a refused upgrade's response itself (Feishu says why in its handshake
 * headers); without it the refusal carries its status only (DingTalk, WeCom).
 */
export function upgraded(
  ws: WebSocket,
  signal: AbortSignal,
  refusal?: (res: IncomingMessage) => ConnectionOpenError,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: ConnectionOpenError) => {
      cleanup();
      // Terminating a socket still connecting emits one more error; it is this failure, already reported.
      ws.on('error', () => undefined);
      ws.terminate();
      reject(err);
    };
    const onOpen = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      const status = /Unexpected server response: (\d{3})/.exec(err.message)?.[1];
      fail(new ConnectionOpenError('connect', err.message, status === undefined ? undefined : Number(status)));
    };
    const onRefused = (_req: ClientRequest, res: IncomingMessage) => {
      res.resume();
      if (refusal) fail(refusal(res));
    };
    const onAbort = () => fail(new ConnectionOpenError('handshake', 'aborted'));
    const cleanup = () => {
      ws.off('open', onOpen);
      ws.off('error', onError);
      if (refusal) ws.off('unexpected-response', onRefused);
      signal.removeEventListener('abort', onAbort);
    };
    ws.once('open', onOpen);
    ws.once('error', onError);
    // Only with `refusal`: a listener here makes `ws` leave the refused response to it, and emit no error.
    if (refusal) ws.once('unexpected-response', onRefused);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A `ws` message as one buffer, whatever form `ws` delivered it in. */
export function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** How long a peer gets to answer the close handshake before its socket is cut off. */
const CLOSE_GRACE_MS = 5_000;

/**
 * A connection's `close`: one close handshake however often it is called, resolved when the socket has closed; a
 * peer that never answers the handshake is cut off after `CLOSE_GRACE_MS`.
 */
export function closeOnce(ws: WebSocket, timers: Pick<Timers, 'setTimeout'>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.once('close', () => resolve());
      ws.close(1000, 'client closing');
      timers.setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    });
    return closing;
  };
}
