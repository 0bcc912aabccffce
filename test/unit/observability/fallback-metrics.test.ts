import type { Context } from 'aws-lambda';
import { createChatApi } from '#composition/chat-api-runtime';
import { composePipeline } from '#composition/pipeline-composition';
import { DEFAULT_MESSAGES } from '#core/answer-pipeline';
import { createChatApiHandler, withObservability } from '#handlers/chat-api';
import type { AwsClients } from '#shared/aws-clients';
import { METRIC, METRIC_UNIT } from '#shared/metrics';
import { logger } from '#shared/powertools';
import { lambdaContext } from '../../../sandbox/api-gateway';
import { chatApiConfig, chatApiEvent, fakeModel, modelReply } from '../../helpers/factories';
import { captureEmf, type EmfCapture } from './emf';

/**
 * An answer from the fallback model, end to end through `/v1/chat`'s handler: the member reads the backup-model
 * note, CloudWatch gets FallbackAnswers, the ledger row written names the fallback and prices its Lambda time, and
 * nothing is written to the FAQ cache.
 */
const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);
const config = chatApiConfig({ MODEL_ID: 'private-llm-int8' });
const FALLBACK_BILLING = { kind: 'lambda', memoryMb: 3008, architecture: 'arm64' } as const;

const model = fakeModel({ id: 'private-llm-int8' });
let written: Record<string, unknown>[];

function call(query: string) {
  const doc = {
    send: async (command: { input: Record<string, unknown> }) => {
      written.push(command.input);
      return {};
    },
  };
  const api = createChatApi({
    config,
    pipeline: composePipeline({ config, clients: { doc } as unknown as AwsClients, model, now: () => NOW }),
    now: () => NOW,
  });
  const handler = withObservability(
    createChatApiHandler(
      async () => api,
      () => NOW,
    ),
  );
  return handler(chatApiEvent({ query }), lambdaContext('chat-api-test', 29_000) as unknown as Context);
}

/** The ledger item among everything written (a put or a batch write), found by its ledger-only fields. */
function ledgerItem(): Record<string, unknown> | undefined {
  const items = JSON.stringify(written);
  const found: Record<string, unknown>[] = [];
  JSON.parse(items, (_key, value: unknown) => {
    if (value && typeof value === 'object' && 'componentsNanoUsd' in value && 'usage' in value) {
      found.push(value as Record<string, unknown>);
    }
    return value;
  });
  return found[0];
}

/** Writes to the FAQ answer cache table (an answer is stored with an UpdateItem, beside its question's variants). */
const cacheWrites = () =>
  written.filter(
    (input) => input.TableName === config.tables.answerCache && ('Item' in input || 'UpdateExpression' in input),
  );

let emf: EmfCapture;

beforeAll(() => logger.setLogLevel('SILENT'));
beforeEach(() => {
  written = [];
  emf = captureEmf();
});
afterEach(() => emf.restore());

describe('an answer from the fallback model', () => {
  it('is noted for the member, counted as FallbackAnswers, and billed to the fallback in the ledger', async () => {
    model.respond = () =>
      modelReply('Port 8443.', { modelId: 'fallback-cpu', billing: FALLBACK_BILLING, latencyMs: 4_200 });
    const res = await call('Which port?');
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).reply).toBe(`Port 8443.\n\n${DEFAULT_MESSAGES.answeredByFallback}`);
    expect(emf.values(METRIC.fallbackAnswers)).toEqual([1]);
    expect(emf.unit(METRIC.fallbackAnswers)).toBe(METRIC_UNIT.FallbackAnswers);
    expect(emf.values(METRIC.modelLatencyMs)).toEqual([4_200]);
    const ledger = ledgerItem();
    expect(ledger).toMatchObject({ model: 'fallback-cpu', modelSource: 'fallback', source: 'model' });
    expect(ledger?.usage).toMatchObject({
      sagemaker: null,
      lambda: expect.arrayContaining([{ fn: 'model', memoryMb: 3008, billedMs: 4_200, arch: 'arm64' }]),
    });
    expect(cacheWrites()).toEqual([]);
  });

  it("the primary's answer is not counted and carries no note (control)", async () => {
    model.respond = () => modelReply('Port 8443.', { modelId: 'private-llm-int8' });
    const res = await call('Which port?');
    expect(JSON.parse(res.body).reply).toBe('Port 8443.');
    expect(emf.values(METRIC.fallbackAnswers)).toEqual([]);
    expect(ledgerItem()).toMatchObject({ model: 'private-llm-int8', modelSource: 'primary' });
    expect(cacheWrites()).toHaveLength(1);
  });
});
