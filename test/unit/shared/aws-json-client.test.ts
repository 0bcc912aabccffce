import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AwsJsonClientOptions,
  AwsServiceError,
  createAwsJsonClient,
  DYNAMODB,
  SECRETS_MANAGER,
} from '#shared/aws-json-client';

/**
 * The hand-signed client over real sockets against a scripted server: each request is answered by the next step
 * (an HTTP answer, a dropped connection, or no answer at all), so retries, errors and keep-alive are observable.
 */
type Step =
  | { readonly status: number; readonly body?: string; readonly headers?: Record<string, string> }
  | { readonly drop: true }
  | { readonly hang: true };

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly socket: number;
}

let server: Server;
let url: string;
let steps: Step[];
let received: Received[];
let connections: number;

beforeEach(async () => {
  steps = [];
  received = [];
  connections = 0;
  const sockets = new WeakMap<object, number>();
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socket: sockets.get(req.socket) ?? -1,
      });
      const step = steps.shift() ?? { status: 200, body: '{}' };
      if ('drop' in step) {
        req.socket.destroy();
        return;
      }
      if ('hang' in step) return;
      res.writeHead(step.status, { 'content-type': 'application/x-amz-json-1.0', ...step.headers });
      res.end(step.body ?? '');
    });
  });
  server.on('connection', (socket) => sockets.set(socket, ++connections));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const sleeps: number[] = [];
function client(overrides: Partial<AwsJsonClientOptions> = {}) {
  sleeps.length = 0;
  return createAwsJsonClient({
    service: DYNAMODB,
    region: 'eu-west-1',
    endpoint: new URL(url),
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'session' },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.999,
    now: () => Date.UTC(2026, 11, 4, 12, 0, 0),
    ...overrides,
  });
}

const conditionFailed = (item?: object): Step => ({
  status: 400,
  body: JSON.stringify({
    __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
    message: 'The conditional request failed',
    ...(item ? { Item: item } : {}),
  }),
});

describe('createAwsJsonClient: a call', () => {
  it('posts the input as the JSON protocol document, signed, and returns the output', async () => {
    steps = [{ status: 200, body: '{"Attributes":{"n":{"N":"1"}}}' }];
    const input = { TableName: 't', Key: { pk: { S: '群 🙂' } } };
    expect(await client().call('UpdateItem', input)).toEqual({ Attributes: { n: { N: '1' } } });
    const [request] = received;
    expect(JSON.parse(request?.body ?? '')).toEqual(input);
    expect(request?.headers).toMatchObject({
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.UpdateItem',
      'x-amz-date': '20261204T120000Z',
      'x-amz-security-token': 'session',
      'content-length': String(Buffer.byteLength(request?.body ?? '')),
    });
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKID\/20261204\/eu-west-1\/dynamodb\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$/,
    );
  });

  it('speaks JSON 1.1 with the service’s own target prefix (Secrets Manager)', async () => {
    steps = [{ status: 200, body: '{"SecretString":"{}"}' }];
    await client({ service: SECRETS_MANAGER }).call('GetSecretValue', { SecretId: 's' });
    expect(received[0]?.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(received[0]?.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(received[0]?.headers.authorization).toContain('/eu-west-1/secretsmanager/aws4_request');
  });

  it('returns {} for an empty body', async () => {
    steps = [{ status: 200, body: '' }];
    expect(await client().call('DeleteItem', {})).toEqual({});
  });

  it('keeps the connection alive between calls', async () => {
    const c = client();
    await c.call('GetItem', {});
    await c.call('GetItem', {});
    await c.call('GetItem', {});
    expect(received.map((r) => r.socket)).toEqual([1, 1, 1]);
  });
});

describe('createAwsJsonClient: errors', () => {
  it('rejects with the error shape by name and its document, without retrying a client error', async () => {
    steps = [conditionFailed({ status: { S: 'replied' } })];
    const error = await client()
      .call('PutItem', {})
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AwsServiceError);
    expect(error).toMatchObject({
      code: 'ConditionalCheckFailedException',
      statusCode: 400,
      message: 'ConditionalCheckFailedException: The conditional request failed',
      body: { Item: { status: { S: 'replied' } } },
    });
    expect(received).toHaveLength(1);
  });

  it('names the error from the x-amzn-errortype header when the body has no __type', async () => {
    steps = [
      {
        status: 403,
        body: '{"Message":"denied"}',
        headers: { 'x-amzn-errortype': 'AccessDeniedException:http://internal/' },
      },
    ];
    await expect(client().call('PutItem', {})).rejects.toMatchObject({
      code: 'AccessDeniedException',
      statusCode: 403,
    });
  });

  it('names an unreadable error answer by its status', async () => {
    steps = [{ status: 413, body: '<html>too large</html>' }];
    await expect(client().call('PutItem', {})).rejects.toMatchObject({ code: 'HTTP413', statusCode: 413 });
  });
});

describe('createAwsJsonClient: retries (the SDK’s standard mode)', () => {
  it('retries a 5xx after a jittered backoff and returns the next answer', async () => {
    steps = [
      { status: 500, body: '{"__type":"InternalServerError"}' },
      { status: 200, body: '{"ok":1}' },
    ];
    expect(await client().call('PutItem', {})).toEqual({ ok: 1 });
    expect(received).toHaveLength(2);
    expect(sleeps).toEqual([99]);
  });

  it('backs off longer after throttling and gives up after three tries with the last error', async () => {
    const throttled: Step = {
      status: 400,
      body: '{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}',
    };
    steps = [throttled, throttled, throttled, { status: 200, body: '{}' }];
    await expect(client().call('PutItem', {})).rejects.toMatchObject({
      code: 'ProvisionedThroughputExceededException',
    });
    expect(received).toHaveLength(3);
    expect(sleeps).toEqual([499, 999]);
  });

  it('retries on a fresh socket when the connection drops (a keep-alive socket closed while Lambda was frozen)', async () => {
    steps = [{ drop: true }, { status: 200, body: '{"ok":2}' }];
    expect(await client().call('PutItem', {})).toEqual({ ok: 2 });
    expect(received.map((r) => r.socket)).toEqual([1, 2]);
  });

  it('cuts a try that gets no answer within its timeout and tries again', async () => {
    steps = [{ hang: true }, { status: 200, body: '{"ok":3}' }];
    expect(await client({ attemptTimeoutMs: 150 }).call('PutItem', {})).toEqual({ ok: 3 });
    expect(received).toHaveLength(2);
  });

  it('tries once when told to', async () => {
    steps = [{ status: 503, body: '{}' }];
    await expect(client({ maxAttempts: 1 }).call('PutItem', {})).rejects.toMatchObject({ statusCode: 503 });
    expect(received).toHaveLength(1);
  });

  it('rejects with the network error once the tries are spent (nothing listening)', async () => {
    const closed = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await expect(client({ endpoint: new URL(closed) }).call('PutItem', {})).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    expect(sleeps).toHaveLength(2);
  });
});
