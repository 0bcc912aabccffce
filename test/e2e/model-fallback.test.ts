import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_MESSAGES } from '#core/pipeline-messages';
import { createInstantEngine } from '../../sandbox/model/instant-engine';
import { type RunningModelServer, startModelServer } from '../../sandbox/model/model-server';
import type { ModelsView } from '../../sandbox/model-control';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';

/**
 * `npm start` with its backup model (issue 16, offline mode): the second local engine, the primary's switch at
 * `/_sandbox/model`, a member's question answered by the backup while the primary is down, and the start-up warning
 * for external endpoints that do not answer `GET /ping`.
 */

interface LedgerRow {
  eventId: string;
  source: string;
  model: string;
  modelSource?: string;
}

const getJson = async <T>(base: string, path: string): Promise<T> => {
  const res = await fetch(`${base}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
};

const postJson = (base: string, path: string, body: string) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

const invoke = (base: string) =>
  fetch(`${base}/endpoints/groupgate-llm/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'ping?' }] }),
  });

/** A URL nothing listens on: a port bound, then released. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return `http://127.0.0.1:${port}`;
}

/** Posts a member's question and waits for its ledger row (written once the reply is delivered). */
async function ask(base: string, chatId: string, text: string): Promise<LedgerRow> {
  const res = await postJson(
    base,
    '/_sandbox/events',
    JSON.stringify({ platform: 'slack', chatId, userId: 'alice', text }),
  );
  const { eventId, webhookStatus } = (await res.json()) as { eventId: string; webhookStatus: number };
  expect(webhookStatus).toBe(200);
  for (let i = 0; i < 150; i++) {
    const rows = await getJson<LedgerRow[]>(base, `/_sandbox/ledger?platform=slack&chat=${chatId}`);
    const row = rows.find((r) => r.eventId === eventId);
    if (row) return row;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no ledger row for "${text}"`);
}

describe('npm start with the default backup model', () => {
  let sandbox: SandboxProcess;
  beforeAll(async () => {
    sandbox = await startSandboxProcess({ MODEL_ENGINE: 'instant' });
  }, 90_000);
  afterAll(() => sandbox?.stop());

  const models = () => getJson<ModelsView>(sandbox.url, '/_sandbox/model');
  const setPrimary = (body: string) => postJson(sandbox.url, '/_sandbox/model/primary', body);

  it('runs a second local engine on its own port and says where at start-up', async () => {
    const view = await models();
    expect(view.primary).toMatchObject({ source: 'local', modelId: 'private-llm-int8', state: 'up' });
    expect(view.fallback).toMatchObject({ state: 'up', source: 'local', modelId: 'fallback-cpu' });
    if (view.fallback.state !== 'up') throw new Error('no backup');
    const urls = new Set([view.primary.url, view.primary.target, view.fallback.url]);
    expect(urls.size).toBe(3);
    for (const url of urls) expect((await fetch(`${url}/ping`)).status).toBe(200);
    expect(sandbox.output).toContain(
      `sandbox: backup model fallback-cpu (SageMaker contract) at ${view.fallback.url} (local); the worker falls back to it when the primary cannot answer`,
    );
    expect(sandbox.output.some((line) => /^ {2}backup model +fallback-cpu — instant echo stand-in/.test(line))).toBe(
      true,
    );
    expect(sandbox.output.some((line) => line.includes('WARNING'))).toBe(false);
  });

  it('refuses a body that is not {"state":"down"|"up"} with 400 and the reason, and other methods with 405', async () => {
    const cases: [string, string][] = [
      ['{"state":"offline"}', 'state must be "down" or "up", got "offline".'],
      ['{"up":true}', 'Unknown field(s): up. state must be "down" or "up", and is missing.'],
      ['state=down', 'Body must be JSON: {"state":"down"} or {"state":"up"}.'],
    ];
    for (const [body, message] of cases) {
      const res = await setPrimary(body);
      expect({ body, status: res.status, json: await res.json() }).toEqual({
        body,
        status: 400,
        json: { error: { code: 'invalid_request', message } },
      });
    }
    expect((await fetch(`${sandbox.url}/_sandbox/model/primary`)).status).toBe(405);
    expect((await models()).primary.state).toBe('up');
  });

  it('takes the primary down: its /ping and invocations fail, the backup answers, and it recovers when up', async () => {
    const before = await ask(sandbox.url, 'offline-e2e', 'Who answers while everything is up?');
    expect(before).toMatchObject({ source: 'model', model: 'private-llm-int8' });

    const down = await setPrimary('{"state":"down"}');
    expect(down.status).toBe(200);
    const view = (await down.json()) as ModelsView;
    expect(view.primary.state).toBe('down');
    const ping = await fetch(`${view.primary.url}/ping`);
    expect(ping.status).toBe(503);
    expect(ping.headers.get('x-amzn-errortype')).toBe('ServiceUnavailable');
    expect((await invoke(view.primary.url)).status).toBe(503);
    // Nothing restarted: the engine behind the switch still answers.
    expect((await fetch(`${view.primary.target}/ping`)).status).toBe(200);

    const during = await ask(sandbox.url, 'offline-e2e', 'Who answers while the primary is down?');
    expect(during).toMatchObject({ source: 'model', model: 'fallback-cpu', modelSource: 'fallback' });
    expect((await models()).primary.refusedCalls).toBeGreaterThan(0);

    expect((await setPrimary('{"state":"up"}')).status).toBe(200);
    expect((await fetch(`${view.primary.url}/ping`)).status).toBe(200);
    expect((await invoke(view.primary.url)).status).toBe(200);
    const after = await ask(sandbox.url, 'offline-e2e', 'Who answers once the primary is back?');
    expect(after).toMatchObject({ source: 'model', model: 'private-llm-int8' });
    expect(sandbox.output).toContain(
      'sandbox: primary model switched DOWN: its calls answer 503 ServiceUnavailable; the backup fallback-cpu answers',
    );
    expect(sandbox.output).toContain('sandbox: primary model switched UP: its calls reach it again');
  }, 60_000);
});

describe('external model endpoints at start-up', () => {
  let external: RunningModelServer;
  beforeAll(async () => {
    external = await startModelServer({ engine: createInstantEngine() });
  });
  afterAll(() => external?.close());

  it('warns, naming the URL, when the external backup does not answer GET /ping (and not about a primary that does)', async () => {
    const dead = await deadUrl();
    const sandbox = await startSandboxProcess({ MODEL_ENDPOINT_URL: external.url, FALLBACK_MODEL_ENDPOINT_URL: dead });
    try {
      const warnings = sandbox.output.filter((line) => line.includes('WARNING'));
      expect(warnings[0]).toBe(
        `sandbox: WARNING: the backup model endpoint FALLBACK_MODEL_ENDPOINT_URL=${dead} does not answer GET /ping ` +
          `(connection refused: nothing listens there). While the primary cannot answer, replies are the apology "${DEFAULT_MESSAGES.modelUnavailable}" instead of the backup's.`,
      );
      expect(warnings.filter((line) => line.includes('the model endpoint MODEL_ENDPOINT_URL='))).toEqual([]);
      const view = await getJson<ModelsView>(sandbox.url, '/_sandbox/model');
      expect(view.primary).toMatchObject({ source: 'external', target: external.url });
      expect(view.primary).not.toHaveProperty('problem');
      expect(view.fallback).toMatchObject({ state: 'up', source: 'external', url: dead });
    } finally {
      await sandbox.stop();
    }
  }, 90_000);

  it('warns when the external primary does not answer, and with FALLBACK_MODEL=off every reply is the apology', async () => {
    const dead = await deadUrl();
    const sandbox = await startSandboxProcess({ MODEL_ENDPOINT_URL: dead, FALLBACK_MODEL: 'off' });
    try {
      expect(sandbox.output).toContain(
        `sandbox: WARNING: the model endpoint MODEL_ENDPOINT_URL=${dead} does not answer GET /ping ` +
          `(connection refused: nothing listens there). Until it does, every reply is the apology "${DEFAULT_MESSAGES.modelUnavailable}".`,
      );
      // The banner repeats it where the reader looks last.
      expect(sandbox.output.some((line) => /^ {2}WARNING +the model endpoint MODEL_ENDPOINT_URL=/.test(line))).toBe(
        true,
      );
      const view = await getJson<ModelsView>(sandbox.url, '/_sandbox/model');
      expect(view.primary).toMatchObject({ problem: 'connection refused: nothing listens there' });
      expect(view.fallback).toEqual({ state: 'off' });
      // No backup was handed to the worker: the question gets the apology, written by no model.
      const row = await ask(sandbox.url, 'dead-primary', 'Is anyone there?');
      expect(row.source).toBe('fallback');
      expect(row).not.toHaveProperty('modelSource');
    } finally {
      await sandbox.stop();
    }
  }, 90_000);

  it('does not start with a FALLBACK_MODEL value other than on or off', async () => {
    await expect(startSandboxProcess({ MODEL_ENGINE: 'instant', FALLBACK_MODEL: 'maybe' }, 30_000)).rejects.toThrow(
      "FALLBACK_MODEL must be on or off, got 'maybe'",
    );
  }, 40_000);
});
