import { SELF_HOSTED_BILLING } from '#core/cost/model-billing';
import { ModelError } from '#core/errors';
import { modelWriteSql } from '#data-analysis/model-write-sql';
import { createOpenAiClient } from '#model/openai-client';
import { startTestServer, type TestResponse, type TestServer } from '../../helpers/http-test-server';

/** The model adapter on the project's OpenAI-compatible client against a real local HTTP server. */

let server: TestServer;
let reply: () => TestResponse | Promise<TestResponse>;

beforeAll(async () => {
  server = await startTestServer(() => reply());
});

afterAll(() => server.close());

const completion = (content: string): TestResponse => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    choices: [{ message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
  }),
});

const client = () =>
  createOpenAiClient({
    baseUrl: `${server.url}/v1`,
    model: 'sql-writer',
    modelId: 'sql-writer',
    billing: SELF_HOSTED_BILLING,
    retry: { maxAttempts: 1 },
  });

describe('modelWriteSql', () => {
  it('asks at temperature 0 with the token cap and returns the model’s text', async () => {
    reply = () => completion('```sql\nSELECT 1\n```');
    const writeSql = modelWriteSql(client(), { maxTokens: 300 });
    const messages = [
      { role: 'system' as const, content: 'write SQL' },
      { role: 'user' as const, content: 'units?' },
    ];
    await expect(writeSql(messages)).resolves.toBe('```sql\nSELECT 1\n```');
    const sent = JSON.parse(server.requests.at(-1)?.body.toString('utf8') ?? '{}');
    expect(sent).toMatchObject({ model: 'sql-writer', messages, max_tokens: 300, temperature: 0 });
    expect(server.requests.at(-1)?.path).toBe('/v1/chat/completions');
  });

  it('rejects with the client’s ModelError when the model fails', async () => {
    reply = () => ({ statusCode: 400, body: '{"error":{"message":"bad request"}}' });
    await expect(modelWriteSql(client())([{ role: 'user', content: 'x' }])).rejects.toBeInstanceOf(ModelError);
  });

  it('stops when the caller’s signal aborts', async () => {
    reply = () => new Promise((resolve) => setTimeout(() => resolve(completion('late')), 1_500));
    const controller = new AbortController();
    const pending = modelWriteSql(client())([{ role: 'user', content: 'x' }], controller.signal);
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toBeInstanceOf(ModelError);
  });

  it('does not call the model once the signal has aborted', async () => {
    const before = server.requests.length;
    const controller = new AbortController();
    controller.abort();
    await expect(modelWriteSql(client())([{ role: 'user', content: 'x' }], controller.signal)).rejects.toThrow(
      /time ran out/,
    );
    expect(server.requests).toHaveLength(before);
  });
});
