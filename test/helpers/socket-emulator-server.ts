import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LongConnectionEmulator } from '../../sandbox/platform-emulator/long-connection-emulator';

/**
 * A real HTTP server for long-connection emulators, as the sandbox wires them: `/_emulator/<platform>/…` reaches the
 * platform's discovery call, WebSocket upgrades reach its socket path. `url` is the base the connector's clients use.
 */
export interface SocketEmulatorServer {
  readonly url: string;
  /** `<url>/_emulator/<platform>`: the `<PLATFORM>_API_BASE_URL` the connector is given. */
  apiBase(platform: string): string;
  close(): Promise<void>;
}

export async function startSocketEmulatorServer(
  emulators: readonly LongConnectionEmulator[],
): Promise<SocketEmulatorServer> {
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const match = /^\/_emulator\/([a-z]+)(\/.*)$/.exec(url.pathname);
      const emulator = emulators.find((e) => e.platform === match?.[1]);
      const answer = emulator?.handleApi({
        method: req.method ?? 'GET',
        path: match?.[2] ?? '/',
        query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries(
          Object.entries(req.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k.toLowerCase(), v]] : [])),
        ),
        body,
      });
      if (!answer) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return void res.end('{"error":"not_found"}');
      }
      res.writeHead(answer.statusCode, answer.headers);
      res.end(answer.body);
    });
  });
  server.on('upgrade', (req, socket, head) => {
    if (!emulators.some((e) => e.handleUpgrade(req, socket, head))) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    apiBase: (platform) => `${url}/_emulator/${platform}`,
    async close() {
      await Promise.all(emulators.map((e) => e.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Waits until `check` holds, polling; throws with `what` if it does not within `timeoutMs`. For socket round trips,
 * which complete on the event loop: the bound only stops a broken test, no assertion is about elapsed time.
 */
export async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A logger that keeps every line, to assert what was logged. */
export function recordingLogger() {
  const lines: { level: string; message: string; fields: Readonly<Record<string, unknown>> }[] = [];
  const at =
    (level: string) =>
    (message: string, fields: Readonly<Record<string, unknown>> = {}) => {
      lines.push({ level, message, fields });
    };
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/**
 * An emulator's `random` that alternates between the first and the second half: with two sockets open, pushes go to
 * each in turn, so a test that expects both replicas to receive events does not fail one run in 2^(n-1).
 */
export function alternatingPick(): () => number {
  let next = 0;
  return () => (next++ % 2 === 0 ? 0.25 : 0.75);
}
