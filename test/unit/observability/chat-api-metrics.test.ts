import type { Context } from 'aws-lambda';
import { createChatApi } from '#composition/chat-api-runtime';
import { composePipeline } from '#composition/pipeline-composition';
import { ModelError } from '#core/errors';
import { createChatApiHandler, withObservability } from '#handlers/chat-api';
import type { AwsClients } from '#shared/aws-clients';
import { METRIC } from '#shared/metrics';
import { logger } from '#shared/powertools';
import { lambdaContext } from '../../../sandbox/api-gateway';
import { chatApiConfig, chatApiEvent, fakeModel, modelReply } from '../../helpers/factories';
import { captureEmf, type EmfCapture } from './emf';

/**
 * `/v1/chat`'s EMF output through its handler's own middleware (`withObservability`), with a DynamoDB stand-in that
 * serves one cached answer and accepts every write.
 */
const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);
const config = chatApiConfig({
  CONTENT_LEXICON: JSON.stringify([{ term: 'projectx', level: 2, category: 'codename' }]),
});

const model = fakeModel();
/** Whether the stand-in serves a cached answer to the cache lookup. */
let cacheHit = false;

function handlerWith() {
  const doc = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      if (command.constructor.name === 'GetCommand' && command.input.TableName === 'answer-cache' && cacheHit) {
        const pk = (command.input.Key as { pk: string }).pk;
        return { Item: { pk, answer: '9 to 5.', createdAt: NOW - 1_000, expiresAt: NOW / 1000 + 600 } };
      }
      return {};
    },
  };
  const clients = { doc } as unknown as AwsClients;
  const api = createChatApi({
    config,
    pipeline: composePipeline({ config, clients, model, now: () => NOW }),
    now: () => NOW,
  });
  return withObservability(
    createChatApiHandler(
      async () => api,
      () => NOW,
    ),
  );
}

const call = (body: unknown) =>
  handlerWith()(chatApiEvent(body), lambdaContext('chat-api-test', 29_000) as unknown as Context);

let emf: EmfCapture;

beforeAll(() => logger.setLogLevel('SILENT'));
beforeEach(() => {
  cacheHit = false;
  model.respond = () =>
    modelReply('Port 8443.', { usage: { promptTokens: 11, completionTokens: 3, totalTokens: 14 }, latencyMs: 40 });
  emf = captureEmf();
});
afterEach(() => emf.restore());

describe('/v1/chat EMF metrics', () => {
  it('publishes model latency and tokens for a model answer, and nothing the worker alone measures', async () => {
    const res = await call({ query: 'Which port?' });
    expect(res.statusCode).toBe(200);
    expect(emf.values(METRIC.modelLatencyMs)).toEqual([40]);
    expect(emf.values(METRIC.promptTokens)).toEqual([11]);
    expect(emf.values(METRIC.completionTokens)).toEqual([3]);
    expect(emf.names()).toEqual([METRIC.completionTokens, METRIC.modelLatencyMs, METRIC.promptTokens].sort());
  });

  it('counts a cache hit without model metrics', async () => {
    cacheHit = true;
    const res = await call({ query: 'What are the office hours?' });
    expect(JSON.parse(res.body)).toMatchObject({ cached: true, reply: '9 to 5.' });
    expect(emf.values(METRIC.cacheHits)).toEqual([1]);
    expect(emf.values(METRIC.modelLatencyMs)).toEqual([]);
  });

  it('counts a reply the output filter masked', async () => {
    model.respond = () => modelReply('That is ProjectX.');
    await call({ query: 'Codename?' });
    expect(emf.values(METRIC.filteredReplies)).toEqual([1]);
  });

  it('counts a model failure answered 5xx as an error, not as a fallback', async () => {
    model.respond = () => {
      throw new ModelError('endpoint down', 'server_error');
    };
    const res = await call({ query: 'Anyone?' });
    expect(res.statusCode).toBe(502);
    expect(emf.values(METRIC.errors)).toEqual([1]);
    expect(emf.values(METRIC.fallbackUsed)).toEqual([]);
  });

  it('does not count a caller mistake (4xx) as an error', async () => {
    const res = await call({ nope: true });
    expect(res.statusCode).toBe(400);
    expect(emf.values(METRIC.errors)).toEqual([]);
  });
});
