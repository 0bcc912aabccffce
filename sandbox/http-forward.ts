import { request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The pieces of the sandbox's small reverse proxies in front of a model endpoint (the fault proxy in `faults.ts`, the
 * primary's switch in `model-switch.ts`): read a request, pass it on unchanged (streaming included), listen on a free
 * local port, close with every connection.
 */

/** The whole request body; model requests are small JSON documents (the model server caps them at 1 MB). */
export async function readRequestBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Sends `req` (whose body was read as `body`) to `target`, below the target's own path, and pipes the answer back
 * as it arrives. A target that cannot be reached is answered 502 with `unreachable` as the SageMaker-style message.
 */
export function forwardTo(
  target: URL,
  req: IncomingMessage,
  body: Buffer,
  res: ServerResponse,
  unreachable: string,
): void {
  const upstream = httpRequest(
    {
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: `${target.pathname.replace(/\/$/, '')}${req.url ?? '/'}`,
      headers: { ...req.headers, host: target.host },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => {
    // Mid-answer, a JSON message would be appended to a streamed body: end the connection instead, as a reset.
    if (res.headersSent) return void res.destroy();
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: unreachable }));
  });
  res.on('close', () => upstream.destroy());
  upstream.end(body);
}

/** Listens on a free port of 127.0.0.1 and answers the server's URL. */
export function listenLocal(server: Server): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

/** Stops accepting, drops open connections (keep-alive sockets, streams in flight) and resolves once closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
