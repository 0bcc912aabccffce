import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

/**
 * A stand-in for a Lambda function URL (AuthType AWS_IAM, InvokeMode RESPONSE_STREAM) in front of a bundled
 * response-streaming handler, run as its own Node process: `node function-url-host.js <bundle.js>`. It provides the
 * `awslambda` global the Node managed runtime provides (`streamifyResponse`, `HttpResponseStream.from`), `require`s
 * the bundle (timing its module init), turns each HTTP request into a payload-format-2.0 event, and pipes the
 * handler's stream back: status and headers from the `HttpResponseStream.from` prelude, then the body as written.
 * A request without a SigV4 `Authorization` header is refused 403, as AWS_IAM auth refuses it (the signature itself
 * is not checked). `POST /2015-03-31/functions/<name>/invocations` is a direct Invoke instead: its JSON body is the
 * event, as an EventBridge rule's input is. stdout: the bundle's own log lines, and one
 * `{"event":"ready","url","initMs"}` line.
 * Environment: the function's variables, passed through; `FUNCTION_URL_HOST_PORT` (default 0 = any free port).
 */

interface Prelude {
  readonly statusCode?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

type StreamingHandler = (event: unknown, stream: Writable, context: object) => Promise<unknown>;

/** The response stream a handler writes to: the prelude becomes the status line and headers. */
class ResponseStream extends Writable {
  prelude: Prelude = {};

  constructor(private readonly res: ServerResponse) {
    super();
  }

  private sendHead(): void {
    if (!this.res.headersSent) this.res.writeHead(this.prelude.statusCode ?? 200, { ...this.prelude.headers });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.sendHead();
    this.res.write(chunk, () => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.sendHead();
    this.res.end(() => callback());
  }
}

Object.assign(globalThis, {
  awslambda: {
    streamifyResponse: (handler: StreamingHandler) => handler,
    HttpResponseStream: {
      from(stream: ResponseStream, prelude: Prelude): ResponseStream {
        stream.prelude = prelude;
        return stream;
      },
    },
  },
});

const emit = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

const TEXT_TYPES = /^(application\/json|text\/)/i;

async function rawEventOf(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function eventOf(req: IncomingMessage): Promise<object> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const url = new URL(req.url ?? '/', 'http://function-url');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // Function URLs pass text bodies as they are and base64-encode the rest.
  const text = TEXT_TYPES.test(headers['content-type'] ?? '');
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: body.toString(text ? 'utf8' : 'base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

async function main(): Promise<void> {
  const bundle = process.argv[2];
  if (!bundle) throw new Error('usage: function-url-host.js <bundle.js>');
  const started = process.hrtime.bigint();
  const { handler } = require(bundle) as { handler: StreamingHandler };
  const initMs = Number(process.hrtime.bigint() - started) / 1e6;

  const server = createServer((req, res) => {
    if (!/^AWS4-HMAC-SHA256 Credential=/.test(req.headers.authorization ?? '')) {
      req.resume();
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"Message":"Forbidden"}');
      return;
    }
    // A direct Invoke (as the stack's keep-warm EventBridge rule makes): the JSON body is the event itself.
    const direct = req.method === 'POST' && /^\/2015-03-31\/functions\/[^/]+\/invocations$/.test(req.url ?? '');
    const stream = new ResponseStream(res);
    res.on('close', () => {
      if (!res.writableFinished) stream.destroy();
    });
    const context = {
      awsRequestId: randomUUID(),
      functionName: 'fallback-model',
      getRemainingTimeInMillis: () => 60_000,
    };
    (direct ? rawEventOf(req) : eventOf(req))
      .then((event) => handler(event, stream, context))
      .catch((err: unknown) => {
        process.stderr.write(`[function-url-host] handler failed: ${err instanceof Error ? err.stack : String(err)}\n`);
        // As Lambda answers an invocation error through a function URL.
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end('{"Message":"Internal Server Error"}');
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(process.env.FUNCTION_URL_HOST_PORT ?? 0), '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  emit({ event: 'ready', url: `http://127.0.0.1:${port}`, initMs });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`[function-url-host] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
