import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAwsJsonClient, DYNAMODB } from '#shared/aws-json-client';
import {
  containerCredentialsProvider,
  credentialsFromEnv,
  ECS_CREDENTIALS_HOST,
  REFRESH_BEFORE_EXPIRY_MS,
} from '#shared/container-credentials';

/**
 * The task role's credentials as an ECS task reads them (the connector): from the container endpoint, cached until
 * shortly before they expire, shared by concurrent callers, and used by the hand-signed client on every try.
 */
const HOUR = 3_600_000;

function endpoint(expiresInMs: number, clock: { now: number }) {
  const requests: { url: string; authorization: string | null }[] = [];
  let serial = 0;
  const fetchImpl: typeof fetch = async (input, init) => {
    serial += 1;
    const headers = new Headers(init?.headers);
    requests.push({ url: String(input), authorization: headers.get('authorization') });
    return new Response(
      JSON.stringify({
        AccessKeyId: `AKIA${serial}`,
        SecretAccessKey: 'secret',
        Token: `token${serial}`,
        Expiration: new Date(clock.now + expiresInMs).toISOString(),
      }),
      { status: 200, headers: { 'content-type': 'application/json' } },
    );
  };
  return { requests, fetchImpl };
}

describe('credentialsFromEnv', () => {
  it('takes static keys first (Lambda, the sandbox)', () => {
    expect(
      credentialsFromEnv({
        AWS_ACCESS_KEY_ID: 'AKIA',
        AWS_SECRET_ACCESS_KEY: 's',
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x',
      }),
    ).toEqual({ accessKeyId: 'AKIA', secretAccessKey: 's' });
  });

  it('reads the container endpoint in an ECS task', () => {
    expect(typeof credentialsFromEnv({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' })).toBe('function');
  });

  it('gives the clients built from one environment one provider, so they share a fetch', () => {
    const env = { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' };
    expect(credentialsFromEnv(env)).toBe(credentialsFromEnv(env));
    expect(credentialsFromEnv(env)).not.toBe(credentialsFromEnv({ ...env }));
  });

  it('names the missing variables with neither', () => {
    expect(() => credentialsFromEnv({})).toThrow(/AWS_ACCESS_KEY_ID: not set/);
  });
});

describe('containerCredentialsProvider', () => {
  it('fetches from the ECS agent, caches until five minutes before expiry, then fetches again', async () => {
    const clock = { now: Date.parse('2026-12-01T00:00:00Z') };
    const { requests, fetchImpl } = endpoint(6 * HOUR, clock);
    const provider = containerCredentialsProvider(
      { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/task' },
      { fetch: fetchImpl, now: () => clock.now },
    );
    expect(await provider()).toEqual({ accessKeyId: 'AKIA1', secretAccessKey: 'secret', sessionToken: 'token1' });
    expect(requests).toEqual([{ url: `${ECS_CREDENTIALS_HOST}/v2/credentials/task`, authorization: null }]);
    clock.now += 6 * HOUR - REFRESH_BEFORE_EXPIRY_MS - 1;
    expect((await provider()).accessKeyId).toBe('AKIA1');
    clock.now += 1;
    expect((await provider()).accessKeyId).toBe('AKIA2');
    expect(requests).toHaveLength(2);
  });

  it('shares one fetch between concurrent callers, and does not cache a failure', async () => {
    let calls = 0;
    const fetchImpl: typeof fetch = async () => {
      calls += 1;
      if (calls === 1) return new Response('agent busy', { status: 500 });
      return Response.json({ AccessKeyId: 'A', SecretAccessKey: 'S', Expiration: new Date(Date.now() + HOUR) });
    };
    const provider = containerCredentialsProvider(
      { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/creds' },
      { fetch: fetchImpl },
    );
    const first = await Promise.allSettled([provider(), provider()]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(await provider()).toEqual({ accessKeyId: 'A', secretAccessKey: 'S' });
  });

  it('sends the authorization token with the full URI (EKS Pod Identity)', async () => {
    const clock = { now: Date.now() };
    const { requests, fetchImpl } = endpoint(HOUR, clock);
    const provider = containerCredentialsProvider(
      {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
        AWS_CONTAINER_AUTHORIZATION_TOKEN: 'tok',
      },
      { fetch: fetchImpl },
    );
    await provider();
    expect(requests).toEqual([{ url: 'http://169.254.170.23/v1/credentials', authorization: 'tok' }]);
  });

  it('refuses a full URI that is not http(s)', () => {
    expect(() => containerCredentialsProvider({ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'file:///etc/passwd' })).toThrow(
      /AWS_CONTAINER_CREDENTIALS_FULL_URI: not an http\(s\) URL/,
    );
  });
});

describe('the hand-signed client with a task role', () => {
  let server: Server;
  let url: string;
  const seen: IncomingMessage['headers'][] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('signs every call with the credentials current at that moment', async () => {
    let serial = 0;
    const client = createAwsJsonClient({
      service: DYNAMODB,
      region: 'us-east-1',
      endpoint: new URL(url),
      credentials: async () => {
        serial += 1;
        return { accessKeyId: `AKIA${serial}`, secretAccessKey: 's', sessionToken: `token${serial}` };
      },
    });
    await client.call('PutItem', {});
    await client.call('PutItem', {});
    client.destroy();
    expect(seen.map((h) => h['x-amz-security-token'])).toEqual(['token1', 'token2']);
    expect(seen.map((h) => /Credential=(AKIA\d)\//.exec(String(h.authorization))?.[1])).toEqual(['AKIA1', 'AKIA2']);
  });
});
