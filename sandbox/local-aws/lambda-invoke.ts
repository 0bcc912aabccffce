import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenLocal, readRequestBody } from '../http-forward';
import type { LocalServer } from './local-server';

/**
 * A local stand-in for Lambda's `Invoke` API (`POST /2015-03-31/functions/{FunctionName}/invocations`), so the real
 * `@aws-sdk/client-lambda` can invoke in-process handlers: point the client's `endpoint` (`LAMBDA_ENDPOINT_URL`)
 * at it. Like dynalite, it accepts any credentials and does not verify SigV4 signatures.
 *
 * What it reproduces of Lambda (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html):
 * - `FunctionName` as a name, `name:qualifier` or a full ARN (URL-encoded in the path, optionally with a qualifier;
 *   `?Qualifier=` too). A handler registered by name answers every ARN and qualifier of that name; one registered
 *   by ARN answers that ARN (any qualifier, unless registered with one);
 * - `RequestResponse`: 200 with the handler's result as JSON (`null` for undefined), `X-Amz-Executed-Version`;
 *   `Event`: 202, the handler runs after the answer; `DryRun`: 204;
 * - a handler that throws: 200 with `X-Amz-Function-Error: Unhandled` and the runtime's error object
 *   `{"errorType","errorMessage","trace"}` as payload (Node.js runtimes report every thrown error as Unhandled);
 * - a result over 6 MB: the same function error, `Function.ResponseSizeTooLarge`;
 * - service errors with `x-amzn-ErrorType` and `{"Type","message"}`: an unknown function 404
 *   `ResourceNotFoundException`; a body that is not JSON 400 `InvalidRequestContentException`; a body over 6 MB 413
 *   `RequestTooLargeException`; another path or method 404 `UnknownOperationException`.
 * A slow handler is simply slow: the caller's abort (its timeout) is what tests exercise. Nothing else of Lambda
 * (concurrency, throttling, timeouts, cold starts) is emulated.
 */

/** A function's code: receives the decoded event, resolves with its result or throws (a function error). */
export type LambdaHandler = (event: unknown) => Promise<unknown>;

/**
 * A result sent as these exact bytes instead of JSON, as a custom runtime (`provided.al2023`) may post any bytes;
 * lets tests produce payloads that are not JSON.
 */
export class RawPayload {
  constructor(readonly body: string | Uint8Array) {}
}

export interface LambdaInvokeStandInOptions {
  /** Functions by name (`glossary`) or ARN (`arn:aws:lambda:us-east-1:123456789012:function:glossary[:alias]`). */
  readonly handlers: Readonly<Record<string, LambdaHandler>>;
  /** Account and region of the ARNs in error messages. @default 123456789012, us-east-1 */
  readonly accountId?: string;
  readonly region?: string;
}

/** Lambda's synchronous payload limit, request and response: 6 MB. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export async function startLambdaInvokeStandIn(options: LambdaInvokeStandInOptions): Promise<LocalServer> {
  const accountId = options.accountId ?? '123456789012';
  const region = options.region ?? 'us-east-1';
  const handlers = new Map(Object.entries(options.handlers));

  const server = createServer((req, res) => {
    void serve(req, res).catch(() => {
      if (!res.headersSent) serviceError(res, 500, 'ServiceException', 'stand-in failure', 'Service');
      else res.destroy();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = INVOKE_PATH.exec(url.pathname);
    if (req.method !== 'POST' || route === null) {
      req.resume();
      return serviceError(res, 404, 'UnknownOperationException', 'Unknown operation', 'User');
    }
    const named = decodeURIComponent(route[1] ?? '');
    const qualifier = url.searchParams.get('Qualifier');
    const handler = findHandler(handlers, named, qualifier);
    const body = await readRequestBody(req);
    if (handler === undefined) {
      const arn = named.startsWith('arn:') ? named : `arn:aws:lambda:${region}:${accountId}:function:${named}`;
      return serviceError(res, 404, 'ResourceNotFoundException', `Function not found: ${arn}`, 'User');
    }
    if (body.byteLength > MAX_PAYLOAD_BYTES) {
      return serviceError(
        res,
        413,
        'RequestTooLargeException',
        `${body.byteLength} byte payload is too large for the RequestResponse invocation type (limit ${MAX_PAYLOAD_BYTES} bytes)`,
        'User',
      );
    }
    let event: unknown;
    try {
      event = body.byteLength === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch (error) {
      return serviceError(
        res,
        400,
        'InvalidRequestContentException',
        `Could not parse request body into json: ${error instanceof Error ? error.message : String(error)}`,
        'User',
      );
    }

    const invocationType = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (invocationType === 'DryRun') return void res.writeHead(204, baseHeaders()).end();
    if (invocationType === 'Event') {
      res.writeHead(202, baseHeaders()).end();
      await handler(event).catch(() => undefined);
      return;
    }

    let payload: Buffer;
    try {
      payload = encodeResult(await handler(event));
    } catch (error) {
      return functionError(res, errorObject(error));
    }
    if (payload.byteLength > MAX_PAYLOAD_BYTES) {
      return functionError(res, {
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_PAYLOAD_BYTES} bytes).`,
      });
    }
    // The caller may have gone (its timeout): writing to a closed socket is a no-op.
    res.writeHead(200, { ...baseHeaders(), 'x-amz-executed-version': '$LATEST' }).end(payload);
  }

  const endpoint = await listenLocal(server);
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    stop() {
      stopped ??= closeServer(server);
      return stopped;
    },
  };
}

/**
 * The handler for `FunctionName` (+ `?Qualifier=`): registered under the exact string first, then the ARN or name
 * without its qualifier, then the bare function name.
 */
function findHandler(
  handlers: ReadonlyMap<string, LambdaHandler>,
  named: string,
  queryQualifier: string | null,
): LambdaHandler | undefined {
  const { unqualified, functionName, qualifier } = splitFunctionName(named);
  const effective = qualifier ?? queryQualifier ?? undefined;
  const candidates = [
    ...(effective === undefined ? [] : [`${unqualified}:${effective}`]),
    unqualified,
    functionName,
    ...(effective === undefined ? [] : [`${functionName}:${effective}`]),
  ];
  for (const key of candidates) {
    const handler = handlers.get(key);
    if (handler !== undefined) return handler;
  }
  return undefined;
}

/** `arn:aws:lambda:r:acct:function:name[:q]` or `name[:q]` → the name without qualifier, the bare name, the qualifier. */
function splitFunctionName(named: string): { unqualified: string; functionName: string; qualifier?: string } {
  const parts = named.split(':');
  if (named.startsWith('arn:')) {
    const unqualified = parts.slice(0, 7).join(':');
    const qualifier = parts[7];
    return { unqualified, functionName: parts[6] ?? named, ...(qualifier === undefined ? {} : { qualifier }) };
  }
  const [functionName = named, qualifier] = parts;
  return { unqualified: functionName, functionName, ...(qualifier === undefined ? {} : { qualifier }) };
}

function encodeResult(result: unknown): Buffer {
  if (result instanceof RawPayload) return Buffer.from(result.body);
  return Buffer.from(JSON.stringify(result) ?? 'null', 'utf8');
}

/** What the Node.js runtime reports for a thrown value. */
function errorObject(error: unknown): { errorType: string; errorMessage: string; trace?: string[] } {
  if (error instanceof Error) {
    return { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') };
  }
  return { errorType: 'string', errorMessage: String(error) };
}

function functionError(res: ServerResponse, error: object): void {
  res.writeHead(200, { ...baseHeaders(), 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' });
  res.end(JSON.stringify(error));
}

function serviceError(res: ServerResponse, status: number, type: string, message: string, kind: string): void {
  res.writeHead(status, { ...baseHeaders(), 'x-amzn-ErrorType': type });
  res.end(JSON.stringify({ Type: kind, message }));
}

function baseHeaders(): Record<string, string> {
  return { 'content-type': 'application/json', 'x-amzn-RequestId': randomUUID() };
}
