import type { RawData, WebSocket } from 'ws';
import { ConnectionOpenError } from './session';

/**
 * Resolves once the socket's upgrade succeeded; rejects with `ConnectionOpenError` ('connect', with the server's HTTP
 * status when it refused the upgrade, e.g. a spent or expired ticket) or, on abort, 'handshake'. The socket is
 * terminated on failure. For the platforms whose refusal carries nothing more than its status (DingTalk, WeCom);
 * Feishu reads its handshake headers itself.
 */
export function upgraded(ws: WebSocket, signal: AbortSignal): Promise<void> {
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
    const onAbort = () => fail(new ConnectionOpenError('handshake', 'aborted'));
    const cleanup = () => {
      ws.off('open', onOpen);
      ws.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    ws.once('open', onOpen);
    ws.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A `ws` message as one buffer, whatever form `ws` delivered it in. */
export function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
