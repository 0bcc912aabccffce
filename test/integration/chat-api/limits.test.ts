jest.mock('jose', () => jest.requireActual('../../unit/chat-api/jose-cjs').joseAsCommonJs());

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { type SandboxProcess, startSandboxProcess } from '../../helpers/sandbox-process';
import { hsToken } from '../../unit/chat-api/tokens';

/**
 * `/v1/chat` limits through the sandbox, configured the way an operator would: a JWKS issuer instead of a shared
 * secret, a daily quota of 3 per API key, a 1.5 s model deadline, and a scripted SageMaker-compatible model on
 * 127.0.0.1 that answers, fails with 500, or never answers, depending on the question.
 */

const ISSUER = 'https://idp.test.local';
const AUDIENCE = 'groupgate-limits';
const QUOTA = 3;
const MODEL_TIMEOUT_MS = 1500;

let sandbox: SandboxProcess;
let jwks: Server;
let model: Server;
let keys: Awaited<ReturnType<typeof generateKeyPair>>;
const hanging: IncomingMessage[] = [];

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
const close = (server: Server | undefined) =>
  new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** Chat-completions per ARCHITECTURE §4.1; the last user message picks the behaviour. */
function modelServer(): Server {
  return createServer((req, res) => {
    // The sandbox checks an external endpoint's health at start-up.
    if (req.method === 'GET' && req.url === '/ping') return void res.writeHead(200).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { messages: { role: string; content: string }[] };
      const question = body.messages.filter((m) => m.role === 'user').pop()?.content ?? '';
      if (question.includes('HANG')) return void hanging.push(req);
      if (question.includes('FAIL')) {
        res.writeHead(500, { 'content-type': 'application/json' });
        return void res.end('{"error":"internal stack trace of the model server"}');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          choices: [{ index: 0, message: { role: 'assistant', content: `stub: ${question}` }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 },
        }),
      );
    });
  });
}

beforeAll(async () => {
  keys = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'limits-key', alg: 'ES256', use: 'sig' };
  jwks = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  model = modelServer();
  const [jwksUrl, modelUrl] = await Promise.all([listen(jwks), listen(model)]);
  sandbox = await startSandboxProcess({
    MODEL_ENDPOINT_URL: modelUrl,
    JWT_JWKS_URL: `${jwksUrl}/.well-known/jwks.json`,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    // One key per test: the quota of 3 is per key, as in an API Gateway usage plan.
    API_KEYS: 'k-jwks, k-timeout, k-fail, k-quota, k-other',
    API_QUOTA_LIMIT: String(QUOTA),
    CHAT_MODEL_TIMEOUT_MS: String(MODEL_TIMEOUT_MS),
    // These cases are about a model that cannot answer; with a backup model the member would get its answer.
    FALLBACK_MODEL: 'off',
  });
}, 90_000);

afterAll(async () => {
  await sandbox?.stop();
  await Promise.all([close(jwks), close(model)]);
});

/** An integration's act-as token from the JWKS issuer: it answers for the member each call names in X-User-ID. */
const esToken = (claims: Record<string, unknown> = {}) =>
  new SignJWT({ sub: 'svc-limits', tenant: 'limits', scope: 'chat:act_as', iss: ISSUER, aud: AUDIENCE, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'limits-key' })
    .setIssuedAt() // required since issue 13: the authorizer bounds exp - iat
    .setExpirationTime('5m')
    .sign(keys.privateKey);

async function chat(query: string, apiKey: string, authorization?: string) {
  const res = await fetch(`${sandbox.url}/v1/chat`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': apiKey,
      authorization: authorization ?? `Bearer ${await esToken()}`,
      'x-group-id': 'limits',
      'x-user-id': `u-${query.slice(0, 12)}`,
    },
    body: JSON.stringify({ query }),
  });
  return {
    status: res.status,
    json: (await res.json()) as { reply?: string; error?: { code: string; message: string } },
  };
}

it('verifies tokens against the issuer JWKS: ES256 from the issuer passes, an HS256 token is refused', async () => {
  const ok = await chat('hello from a JWKS caller', 'k-jwks');
  expect(ok).toEqual({ status: 200, json: expect.objectContaining({ reply: 'stub: hello from a JWKS caller' }) });
  const hs = await hsToken({ iss: ISSUER, aud: AUDIENCE, secret: 'x'.repeat(40) });
  const confused = await chat('hello', 'k-jwks', `Bearer ${hs}`);
  expect(confused).toEqual({
    status: 401,
    json: {
      error: { code: 'unauthorized', message: 'Unauthorized: algorithm HS256 is not allowed (allowed: RS256, ES256)' },
    },
  });
  expect((await chat('hello', 'k-jwks', `Bearer ${await esToken({ aud: 'other' })}`)).status).toBe(401);
});

it('a model that does not answer in time → 504 with a clear message, well before API Gateway’s 29 s', async () => {
  const started = Date.now();
  const res = await chat('please HANG forever', 'k-timeout');
  expect(res.status).toBe(504);
  expect(res.json.error).toEqual({
    code: 'model_timeout',
    message:
      'The model did not answer within 1.5 s (API Gateway ends requests at 29 s). Retry, or ask for fewer max_tokens.',
  });
  expect(Date.now() - started).toBeLessThan(MODEL_TIMEOUT_MS + 3_000);
  expect(hanging.length).toBeGreaterThan(0);
});

it('a failing model → 502 without its internals', async () => {
  const res = await chat('FAIL please', 'k-fail');
  expect(res.status).toBe(502);
  expect(res.json.error).toEqual({
    code: 'model_server_error',
    message: 'The model is unavailable right now; please retry shortly.',
  });
});

it(`refuses a key over its daily quota of ${QUOTA} with 429, while other keys go on`, async () => {
  const statuses: number[] = [];
  for (let i = 0; i <= QUOTA; i++) statuses.push((await chat(`quota call ${i}`, 'k-quota')).status);
  expect(statuses).toEqual([200, 200, 200, 429]);
  const over = await chat('quota call again', 'k-quota');
  expect(over.json.error?.code).toBe('too_many_requests');
  expect(over.json.error?.message).toMatch(/quota/);
  expect((await chat('another key is still fine', 'k-other')).status).toBe(200);
});
