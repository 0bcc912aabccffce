import dns from 'node:dns';
import type { ChatRequest } from '#model/chat-completions';
import { createFallbackClient, isFunctionUrl } from '#model/fallback-client';
import { createSageMakerClient } from '#model/sagemaker-client';
import { startTestServer, type TestServer } from '../../helpers/http-test-server';

/**
 * The fallback function is reached through a Lambda function URL with AWS_IAM auth, which checks SigV4 for service
 * `lambda`; a SageMaker endpoint (or the sandbox's server) is signed for `sagemaker`. The Authorization header's
 * credential scope says which: `<key>/<date>/<region>/<service>/aws4_request`.
 */
const COMPLETION = JSON.stringify({
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});
const REQUEST: ChatRequest = { messages: [{ role: 'user', content: '在吗' }], maxTokens: 8, temperature: 0 };
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

let server: TestServer;
beforeEach(async () => {
  process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey;
  server = await startTestServer(() => ({ statusCode: 200, body: COMPLETION }));
});
afterEach(async () => {
  jest.restoreAllMocks();
  await server.close();
});

/** `/<region>/<service>/aws4_request` of the one request the server saw. */
function scopeOfOnlyRequest(): string {
  expect(server.requests).toHaveLength(1);
  const authorization = server.requests[0]?.headers.authorization ?? '';
  const scope = /Credential=[^/]+\/\d{8}(\/[^,]+),/.exec(authorization)?.[1];
  if (!scope) throw new Error(`no SigV4 credential scope in "${authorization}"`);
  return scope;
}

/** Resolves every host name to 127.0.0.1, so a function URL's host name reaches the local server. */
function resolveEverythingLocally(): string[] {
  const asked: string[] = [];
  jest.spyOn(dns, 'lookup').mockImplementation(((hostname: string, options: unknown, callback: unknown) => {
    asked.push(hostname);
    const done = (typeof options === 'function' ? options : callback) as (...args: unknown[]) => void;
    const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
    if (all) done(null, [{ address: '127.0.0.1', family: 4 }]);
    else done(null, '127.0.0.1', 4);
  }) as unknown as typeof dns.lookup);
  return asked;
}

const fallbackOptions = (endpointUrl: string) => ({
  endpointUrl,
  endpointName: 'groupgate-fallback',
  region: 'eu-west-1',
  modelId: 'fallback-cpu',
  memoryMb: 3008,
  timeoutMs: 5_000,
});

describe('SigV4 signing name', () => {
  it('the SageMaker client signs for sagemaker by default', async () => {
    await createSageMakerClient({
      endpointName: 'e',
      endpointUrl: server.url,
      region: 'us-east-1',
      modelId: 'm',
      instanceType: 'ml.g4dn.xlarge',
      credentials: CREDENTIALS,
      retry: { maxAttempts: 1 },
    }).invoke(REQUEST, { deadline: Date.now() + 5_000 });
    expect(scopeOfOnlyRequest()).toBe('/us-east-1/sagemaker/aws4_request');
  });

  it('signingService changes the signing name, and nothing else of the request', async () => {
    const result = await createSageMakerClient({
      endpointName: 'e',
      endpointUrl: server.url,
      region: 'us-east-1',
      modelId: 'm',
      instanceType: 'ml.g4dn.xlarge',
      credentials: CREDENTIALS,
      retry: { maxAttempts: 1 },
      signingService: 'lambda',
    }).invoke(REQUEST, { deadline: Date.now() + 5_000 });
    expect(result.content).toBe('ok');
    expect(scopeOfOnlyRequest()).toBe('/us-east-1/lambda/aws4_request');
    expect(server.requests[0]?.path).toBe('/endpoints/e/invocations');
  });

  it('the fallback client signs a function URL for lambda, in its region', async () => {
    const asked = resolveEverythingLocally();
    const port = new URL(server.url).port;
    const host = 'abcdefghij0123456789abcdefghij01.lambda-url.eu-west-1.on.aws';
    const client = createFallbackClient(fallbackOptions(`http://${host}:${port}`));
    const result = await client.invoke(REQUEST, { deadline: Date.now() + 5_000 });
    expect(result.content).toBe('ok');
    expect(asked).toContain(host);
    expect(scopeOfOnlyRequest()).toBe('/eu-west-1/lambda/aws4_request');
    expect(server.requests[0]?.headers.host).toBe(`${host}:${port}`);
  });

  it('the fallback client signs any other server for sagemaker', async () => {
    const client = createFallbackClient(fallbackOptions(server.url));
    await client.invoke(REQUEST, { deadline: Date.now() + 5_000 });
    expect(scopeOfOnlyRequest()).toBe('/eu-west-1/sagemaker/aws4_request');
  });
});

describe('isFunctionUrl', () => {
  it.each([
    ['https://abc123.lambda-url.us-east-1.on.aws', true],
    ['https://abc123.lambda-url.ap-southeast-2.on.aws/', true],
    ['https://runtime.sagemaker.us-east-1.amazonaws.com', false],
    ['http://127.0.0.1:8080', false],
    ['https://abc123.lambda-url.us-east-1.on.aws.evil.example', false],
    ['https://x.abc123.lambda-url.us-east-1.on.aws', false],
    ['not a url', false],
  ])('%s → %s', (url, expected) => {
    expect(isFunctionUrl(url)).toBe(expected);
  });
});
