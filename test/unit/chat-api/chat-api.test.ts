import type { APIGatewayProxyEvent } from 'aws-lambda';
import { type ChatApiConfig, loadChatApiConfig } from '../../../functions/config/chat-api-config';
import { ModelError } from '../../../functions/core/errors';
import {
  type ChatApi,
  createChatApi,
  createChatApiHandler,
  ModelFailureForCaller,
} from '../../../functions/handlers/chat-api';
import { composePipeline } from '../../../functions/handlers/pipeline-composition';
import type { ModelClient } from '../../../functions/model/model-client';
import type { AwsClients } from '../../../functions/shared/aws-clients';
import { logger } from '../../../functions/shared/powertools';
import { buildProxyEvent } from '../../../sandbox/api-gateway';

const config: ChatApiConfig = loadChatApiConfig({
  CONVERSATIONS_TABLE: 'conversations',
  ANSWER_CACHE_TABLE: 'answer-cache',
  LEDGER_TABLE: 'ledger',
  AUDIT_TABLE: 'audit',
  CHAT_MODEL_TIMEOUT_MS: '20000',
});
const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);

beforeEach(() => {
  for (const level of ['info', 'warn', 'error'] as const) jest.spyOn(logger, level).mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

function chatEvent(body: unknown, authorizer: Record<string, unknown> | null = { sub: 'svc' }): APIGatewayProxyEvent {
  const event = buildProxyEvent(
    {
      method: 'POST',
      url: '/v1/chat',
      headers: [
        ['Content-Type', 'application/json'],
        ['X-Group-ID', 'eng'],
        ['X-User-ID', 'alice'],
      ],
      body: Buffer.from(JSON.stringify(body)),
    },
    { resource: '/v1/chat' },
  );
  event.requestContext.authorizer = authorizer;
  return event;
}

const context = (remaining = 29_000) => ({ getRemainingTimeInMillis: () => remaining });

/** The pipeline on a DynamoDB stand-in that records every command and holds nothing, and a scripted model. */
function fakeApi(invoke: ModelClient['invoke']) {
  const commands: { name: string; input: Record<string, unknown> }[] = [];
  const doc = {
    send: jest.fn(async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      commands.push({ name: command.constructor.name, input: command.input });
      return {};
    }),
  };
  const model: ModelClient = {
    modelId: 'test-model',
    invoke: jest.fn(invoke),
    invokeStream: jest.fn(),
    circuitState: () => 'closed',
  };
  const clients = { doc } as unknown as AwsClients;
  const api = createChatApi({
    config,
    pipeline: composePipeline({ config, clients, model, now: () => NOW }),
    now: () => NOW,
  });
  return { api, commands, model };
}

const answer = (content: string): Awaited<ReturnType<ModelClient['invoke']>> => ({
  content,
  finishReason: 'stop',
  usage: { promptTokens: 11, completionTokens: 3, totalTokens: 14 },
  latencyMs: 40,
  attempts: 1,
  modelId: 'test-model',
});

describe('createChatApi on the shared pipeline', () => {
  it('answers, saves the turn under api#tenant#group#user, and writes ledger + audit as platform api', async () => {
    const { api, commands, model } = fakeApi(async () => answer('hello'));
    const handler = createChatApiHandler(
      async () => api,
      () => NOW,
    );
    const result = await handler(chatEvent({ query: 'hi there', max_tokens: 64 }), context());
    expect(result.statusCode).toBe(200);
    const body = JSON.parse(result.body) as Record<string, unknown>;
    expect(body).toEqual({
      reply: 'hello',
      usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 },
      cached: false,
      requestId: expect.any(String),
    });
    expect(result.headers?.['x-request-id']).toBe(body.requestId);
    expect(model.invoke).toHaveBeenCalledWith(expect.objectContaining({ maxTokens: 64 }), { deadline: NOW + 20_000 });
    const put = commands.find((c) => c.name === 'PutCommand' && c.input.TableName === 'conversations');
    expect(put?.input.Item).toMatchObject({ pk: 'api#svc#eng#alice' });
    const batch = commands.find((c) => c.name === 'BatchWriteCommand');
    const items = batch?.input.RequestItems as Record<string, { PutRequest: { Item: Record<string, unknown> } }[]>;
    expect(items.ledger?.[0]?.PutRequest.Item).toMatchObject({
      pk: 'GROUP#api#svc#eng',
      platform: 'api',
      tenantId: 'svc',
      chatId: 'eng',
      userId: 'alice',
      eventId: body.requestId,
      cached: false,
      source: 'model',
    });
    expect(items.audit?.[0]?.PutRequest.Item).toMatchObject({ pk: 'GROUP#api#svc#eng', question: 'hi there' });
  });

  it('gives the model what is left of the Lambda time minus a margin when that is shorter', async () => {
    const { api, model } = fakeApi(async () => answer('ok'));
    await createChatApiHandler(
      async () => api,
      () => NOW,
    )(chatEvent({ query: 'q' }), context(10_000));
    expect(model.invoke).toHaveBeenCalledWith(expect.anything(), { deadline: NOW + 8_000 });
  });

  it('a model timeout is a 504 that says what happened, and the call is still in the ledger', async () => {
    const { api, commands } = fakeApi(async () => {
      throw new ModelError('Model call exceeded its deadline', 'timeout');
    });
    const result = await createChatApiHandler(
      async () => api,
      () => NOW,
    )(chatEvent({ query: 'slow' }), context());
    expect(result.statusCode).toBe(504);
    expect(JSON.parse(result.body)).toEqual({
      error: {
        code: 'model_timeout',
        message:
          'The model did not answer within 20 s (API Gateway ends requests at 29 s). Retry, or ask for fewer max_tokens.',
      },
    });
    const batch = commands.find((c) => c.name === 'BatchWriteCommand');
    expect(JSON.stringify(batch?.input)).toContain('"source":"fallback"');
    expect(commands.some((c) => c.input.TableName === 'conversations' && c.name === 'PutCommand')).toBe(false);
  });

  it('other model failures are a 502 without internals', async () => {
    const { api } = fakeApi(async () => {
      throw new ModelError('endpoint said 500: stack trace here', 'server_error');
    });
    const result = await createChatApiHandler(
      async () => api,
      () => NOW,
    )(chatEvent({ query: 'q' }), context());
    expect(result.statusCode).toBe(502);
    expect(JSON.parse(result.body)).toEqual({
      error: { code: 'model_server_error', message: 'The model is unavailable right now; please retry shortly.' },
    });
  });
});

describe('createChatApiHandler', () => {
  const never: ChatApi = {
    limits: config.limits,
    answer: async () => {
      throw new Error('must not be called');
    },
  };

  it('refuses a request that did not pass the authorizer (401)', async () => {
    const result = await createChatApiHandler(async () => never)(chatEvent({ query: 'q' }, null), context());
    expect(result.statusCode).toBe(401);
    expect(JSON.parse(result.body)).toEqual({ error: { code: 'unauthorized', message: 'No authenticated caller' } });
  });

  it('validates before answering (400 with every problem)', async () => {
    const result = await createChatApiHandler(async () => never)(chatEvent({ query: ' ', x: 1 }), context());
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body)).toEqual({
      error: {
        code: 'invalid_request',
        message: 'query must not be empty; unknown field x (allowed: query, context, max_tokens)',
      },
    });
  });

  it('hides unexpected faults behind a 500', async () => {
    const result = await createChatApiHandler(async () => never)(chatEvent({ query: 'q' }), context());
    expect(result.statusCode).toBe(500);
    expect(JSON.parse(result.body)).toEqual({
      error: { code: 'internal_error', message: 'Internal error; see logs for details.' },
    });
  });

  it('ModelFailureForCaller keeps the ModelError status rules', () => {
    expect(new ModelFailureForCaller('m', 'timeout').httpStatus).toBe(504);
    expect(new ModelFailureForCaller('m', 'circuit_open').httpStatus).toBe(502);
    expect(new ModelFailureForCaller('m', 'circuit_open').expose).toBe(true);
  });
});
