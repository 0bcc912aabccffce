import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the test server received, body kept as raw bytes. */
export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Header names lower-cased (Node's behaviour); repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface TestResponse {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Text body, or raw bytes (binary framings such as AWS event streams). */
  readonly body?: string | Uint8Array;
  /** A body written in parts, `partDelayMs` apart (a streamed response arriving over time); replaces `body`. */
  readonly parts?: readonly Uint8Array[];
  readonly partDelayMs?: number;
}

export type TestHandler = (request: RecordedRequest) => TestResponse | Promise<TestResponse>;

export interface TestServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * Starts a real HTTP server on 127.0.0.1 and an OS-assigned port, so send paths are tested over real sockets and
 * real `fetch`. A handler that throws answers 500 with the error message. Always `close()` it (afterEach/finally).
 */
export async function startTestServer(handler: TestHandler): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    void handle(req, res, handler, requests);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  handler: TestHandler,
  requests: RecordedRequest[],
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const recorded: RecordedRequest = {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    body: Buffer.concat(chunks),
  };
  requests.push(recorded);
  let response: TestResponse;
  try {
    response = await handler(recorded);
  } catch (err) {
    response = { statusCode: 500, body: err instanceof Error ? err.message : String(err) };
  }
  res.writeHead(response.statusCode, { 'content-type': 'application/json', ...response.headers });
  if (response.parts) {
    for (const part of response.parts) {
      res.write(part);
      await new Promise((resolve) => setTimeout(resolve, response.partDelayMs ?? 0));
    }
    res.end();
    return;
  }
  res.end(response.body ?? '');
}
