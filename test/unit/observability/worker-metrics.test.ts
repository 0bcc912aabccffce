import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createWorkerRuntime } from '#composition/worker-runtime';
import { ModelError, PlatformApiError } from '#core/errors';
import { createWorkerHandler, withObservability } from '#handlers/worker';
import * as metricsModule from '#shared/metrics';
import { METRIC, METRIC_UNIT } from '#shared/metrics';
import { logger } from '#shared/powertools';
import { lambdaContext } from '../../../sandbox/api-gateway';
import {
  fakeModel,
  fakePlatform,
  modelReply,
  queuedEvent,
  sqsEventOf,
  sqsRecordOf,
  workerConfig,
} from '../../helpers/factories';
import { captureEmf, type EmfCapture } from './emf';

/**
 * The worker's EMF output through the handler's own middleware (`withObservability`, as `handler` uses it), with the
 * stores on a mocked DynamoDB client: which metrics one record publishes for each way it can go.
 */
const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);
const config = workerConfig({
  CONTENT_LEXICON: JSON.stringify([{ term: 'projectx', level: 2, category: 'codename' }]),
});
const dynamo = new DynamoDBClient({ region: 'us-east-1' });
const doc = DynamoDBDocumentClient.from(dynamo);
const ddb = mockClient(doc);

/** The model's answer; the metrics below assert its latency, token counts and time to first token. */
const answer = (content: string, ttft?: number) =>
  modelReply(content, {
    usage: { promptTokens: 21, completionTokens: 7, totalTokens: 28 },
    latencyMs: 340,
    modelId: 'm',
    ...(ttft === undefined ? {} : { timeToFirstTokenMs: ttft }),
  });

const model = fakeModel({ id: 'm' });
const platform = fakePlatform('slack');

let seq = 0;
/** A record of a new event from the same member, sent to the queue `sentAgoMs` before the worker's clock. */
function record(text: string, sentAgoMs = 250): SQSRecord {
  seq++;
  const event = queuedEvent('slack', {
    text,
    receivedAt: NOW - sentAgoMs,
    message: { eventId: `Ev${seq}`, messageId: `${seq}.1` },
  });
  return sqsRecordOf(event, { messageId: `m${seq}`, sentAt: NOW - sentAgoMs, firstReceivedAt: NOW });
}

const handler = withObservability(
  createWorkerHandler(async () =>
    createWorkerRuntime({
      config,
      clients: { doc },
      platforms: { slack: platform },
      model,
      now: () => NOW,
    }),
  ),
);

async function handle(...records: SQSRecord[]) {
  return handler(sqsEventOf(records), lambdaContext('worker-test', 30_000) as unknown as Context);
}

let emf: EmfCapture;

beforeAll(() => logger.setLogLevel('SILENT'));

beforeEach(() => {
  ddb.reset();
  ddb.on(UpdateCommand).resolves({ Attributes: { attempts: 1 } });
  ddb.on(GetCommand).resolves({});
  // The worker's early read (context, FAQ answer, active-user marker): nothing stored yet.
  ddb.on(BatchGetCommand).resolves({ Responses: {} });
  ddb.on(BatchWriteCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  ddb.on(QueryCommand).resolves({ Items: [{ userId: 'U1', totalNanoUsd: 1_500_000, expiresAt: NOW / 1000 + 60 }] });
  model.calls.length = 0;
  model.respond = () => answer('It is 8443.', 120);
  platform.sent.length = 0;
  platform.respond = () => ({ messageIds: ['1.2'] });
  emf = captureEmf();
});

afterEach(() => emf.restore());

const activePuts = () =>
  ddb.commandCalls(PutCommand).filter((c) => String(c.args[0].input.Item?.pk).startsWith('active#'));

describe('worker EMF metrics', () => {
  it('publishes queue wait, model latency, time to first token, tokens, a delivery and an active user', async () => {
    await expect(handle(record('which port?', 250))).resolves.toEqual({ batchItemFailures: [] });
    expect(emf.values(METRIC.queueWaitMs)).toEqual([250]);
    expect(emf.values(METRIC.modelLatencyMs)).toEqual([340]);
    expect(emf.values(METRIC.timeToFirstTokenMs)).toEqual([120]);
    expect(emf.values(METRIC.promptTokens)).toEqual([21]);
    expect(emf.values(METRIC.completionTokens)).toEqual([7]);
    expect(emf.values(METRIC.repliesDelivered)).toEqual([1]);
    expect(emf.values(METRIC.activeUsers)).toEqual([1]);
    // One-shot reply (the fake platform does not stream): visible when sent, event time NOW − 250 ms; one call.
    expect(emf.values(METRIC.timeToFirstVisibleTextMs)).toEqual([250]);
    expect(emf.values(METRIC.platformCallsPerReply)).toEqual([1]);
    expect(emf.unit(METRIC.timeToFirstVisibleTextMs)).toBe(METRIC_UNIT.TimeToFirstVisibleText);
    for (const absent of [
      METRIC.deliveryFailures,
      METRIC.errors,
      METRIC.cacheHits,
      METRIC.fallbackUsed,
      METRIC.filteredReplies,
    ]) {
      expect(emf.values(absent)).toEqual([]);
    }
    expect(emf.unit(METRIC.queueWaitMs)).toBe(METRIC_UNIT.QueueWaitMs);
    expect(emf.unit(METRIC.promptTokens)).toBe(METRIC_UNIT.PromptTokens);
    expect(activePuts()[0]?.args[0].input).toMatchObject({
      TableName: 'events',
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: { pk: 'active#2026-11-25#slack#T1#C1#U1', expiresAt: NOW / 1000 + 2 * 86_400 },
    });
  });

  it('flushes once per batch, with one value per record', async () => {
    await handle(record('first?', 100), record('second?', 300));
    expect(emf.count()).toBe(1);
    expect(emf.values(METRIC.queueWaitMs)).toEqual([100, 300]);
    expect(emf.values(METRIC.repliesDelivered)).toEqual([1, 1]);
  });

  it('does not count the member again when the day’s active-user item already exists', async () => {
    ddb
      .on(PutCommand, { TableName: 'events' })
      .rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));
    await handle(record('again?'));
    expect(activePuts()).toHaveLength(1);
    expect(emf.values(METRIC.activeUsers)).toEqual([]);
    expect(emf.values(METRIC.repliesDelivered)).toEqual([1]);
  });

  it('writes no marker and counts nothing when the early read finds the day’s active-user item', async () => {
    ddb.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: { pk: string }[] }> }) => ({
      Responses: Object.fromEntries(
        Object.entries(input.RequestItems).map(([table, { Keys }]) => [
          table,
          Keys.filter((key) => key.pk.startsWith('active#')),
        ]),
      ),
    }));
    await handle(record('back again?'));
    expect(activePuts()).toHaveLength(0);
    expect(emf.values(METRIC.activeUsers)).toEqual([]);
    expect(emf.values(METRIC.repliesDelivered)).toEqual([1]);
  });

  it('still replies when the active-user put fails for another reason, without counting it', async () => {
    ddb
      .on(PutCommand, { TableName: 'events' })
      .rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    await expect(handle(record('still there?'))).resolves.toEqual({ batchItemFailures: [] });
    expect(emf.values(METRIC.activeUsers)).toEqual([]);
    expect(emf.values(METRIC.repliesDelivered)).toEqual([1]);
  });

  it('counts the fallback answer, and no model metrics, when the model fails', async () => {
    model.respond = () => {
      throw new ModelError('endpoint down', 'server_error');
    };
    await handle(record('anyone home?'));
    expect(emf.values(METRIC.fallbackUsed)).toEqual([1]);
    expect(emf.values(METRIC.repliesDelivered)).toEqual([1]);
    expect(emf.values(METRIC.modelLatencyMs)).toEqual([]);
    expect(emf.values(METRIC.promptTokens)).toEqual([]);
    expect(emf.values(METRIC.errors)).toEqual([]);
  });

  it('counts a reply the output filter masked, and leaves time to first token out when not streamed', async () => {
    model.respond = () => answer('The codename is ProjectX.');
    await handle(record('what is the codename?'));
    expect(emf.values(METRIC.filteredReplies)).toEqual([1]);
    expect(emf.values(METRIC.timeToFirstTokenMs)).toEqual([]);
    expect(emf.values(METRIC.modelLatencyMs)).toEqual([340]);
  });

  it('counts a delivery failure and an error when the platform refuses the send, flushed although the batch fails', async () => {
    platform.respond = () => {
      throw new PlatformApiError('channel_not_found', 404, '{"ok":false}');
    };
    await expect(handle(record('are you there?'))).rejects.toThrow('All records failed processing');
    expect(emf.values(METRIC.deliveryFailures)).toEqual([1]);
    expect(emf.values(METRIC.errors)).toEqual([1]);
    expect(emf.values(METRIC.repliesDelivered)).toEqual([]);
  });

  it('answers /cost from the ledger without the model or its metrics', async () => {
    await handle(record('/cost'));
    expect(model.calls).toEqual([]);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'ledger',
      ExpressionAttributeValues: { ':pk': 'GROUP#slack#T1#C1', ':from': '2026-11-01T00:00:00.000Z' },
    });
    expect(platform.sent[0]?.text).toContain('You: 1 次 invocations, $0.0015');
    expect(emf.values(METRIC.modelLatencyMs)).toEqual([]);
    expect(emf.values(METRIC.repliesDelivered)).toEqual([1]);
  });

  it('skips QueueWaitMs when the record has no usable SentTimestamp', async () => {
    const r = record('no timestamp?');
    await handle({ ...r, attributes: { ...r.attributes, SentTimestamp: 'garbage' } });
    expect(emf.values(METRIC.queueWaitMs)).toEqual([]);
    expect(emf.values(METRIC.repliesDelivered)).toEqual([1]);
  });

  it('a reply figure that cannot be recorded leaves the delivered reply delivered, once', async () => {
    const broken = jest.spyOn(metricsModule, 'recordReplyMetrics').mockImplementation(() => {
      throw new RangeError('metrics store refused');
    });
    let attempts = 0;
    try {
      await expect(handle(record('which port?'))).resolves.toEqual({ batchItemFailures: [] });
      attempts = broken.mock.calls.length;
    } finally {
      broken.mockRestore();
    }
    expect(attempts).toBe(1);
    expect(platform.sent).toHaveLength(1);
    expect(emf.values(METRIC.repliesDelivered)).toEqual([1]);
    expect(emf.values(METRIC.deliveryFailures)).toEqual([]);
  });
});
