import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createModelRoutes, type ModelRoutesOptions } from '#local-model/model-routes';

/**
 * The sandbox's SageMaker stand-in: the model routes of `functions/local-model/model-routes.ts` (the SageMaker
 * runtime API paths the AWS SDK calls, `GET /ping`, and `POST /v1/chat/completions`) served over node:http. The
 * fallback function serves the same routes from Lambda function-URL events (`functions/handlers/fallback-model.ts`).
 */
export interface ModelServerOptions extends ModelRoutesOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
}

export interface RunningModelServer {
  url: string;
  close(): Promise<void>;
}

export async function startModelServer(options: ModelServerOptions): Promise<RunningModelServer> {
  const routes = createModelRoutes(options);
  const server = createServer((req, res) => {
    // A caller that hangs up before the response ended stops its generation.
    const hungUp = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) hungUp.abort();
    });
    const request = {
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0] ?? '/',
      headers: req.headers,
      readBody: (limit: number) => readBody(req, limit),
      signal: hungUp.signal,
    };
    // A body no route read (a refused key, an unknown path) is drained, so the connection can be reused.
    void routes(request, res).finally(() => req.resume());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The whole body, or `undefined` as soon as it is over `limit` bytes (the rest is read and dropped). */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
