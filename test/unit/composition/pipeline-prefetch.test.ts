import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { composePipeline, type Prefetched } from '#composition/pipeline-composition';
import { CapacityMeter } from '#stores/capacity';
import { fakeModel, pipelineConfig } from '../../helpers/factories';

/**
 * The pipeline's ports use reads the worker started alongside its claim only for the keys they were made for; any
 * other key is read from the table, so a prefetch can make a lookup early but never answer the wrong one.
 */
const NOW = 1_800_000_000_000;
const dynamo = new DynamoDBClient({ region: 'us-east-1' });
const doc = DynamoDBDocumentClient.from(dynamo);
const ddb = mockClient(doc);
const pipeline = composePipeline({
  config: pipelineConfig(),
  clients: { doc },
  model: fakeModel(),
  now: () => NOW,
});

const context = {
  turns: [{ role: 'user', content: 'hi', tokens: 1, at: NOW, eventId: 'Ev0' }],
  version: 1,
  tokenCount: 1,
} as const;

function portsWith(prefetched: Prefetched) {
  return pipeline.ports(new CapacityMeter(), { prefetched });
}

beforeEach(() => {
  ddb.reset();
  ddb
    .on(GetCommand)
    .resolves({ Item: { pk: 'read', answer: 'from the table', createdAt: NOW, expiresAt: NOW / 1000 + 60 } });
});

afterAll(() => ddb.restore());

describe('prefetched reads in the pipeline ports', () => {
  it('answers the FAQ lookup of the prefetched key from the prefetch, without a read', async () => {
    const ports = portsWith({
      key: 'slack#T#C#U',
      context: Promise.resolve(context),
      cache: Promise.resolve({ key: 'faq-1', answer: 'from the prefetch' }),
    });
    expect(await ports.cacheGet('faq-1')).toBe('from the prefetch');
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('a prefetched miss is a miss, without a second read', async () => {
    const ports = portsWith({
      key: 'slack#T#C#U',
      context: Promise.resolve(context),
      cache: Promise.resolve({ key: 'faq-1', answer: undefined }),
    });
    expect(await ports.cacheGet('faq-1')).toBeUndefined();
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it.each([
    ['another key was prefetched', Promise.resolve({ key: 'faq-other', answer: 'not this one' })],
    ['no key was prefetched', Promise.resolve(undefined)],
  ])('reads the table when %s', async (_case, cache) => {
    const ports = portsWith({ key: 'slack#T#C#U', context: Promise.resolve(context), cache });
    expect(await ports.cacheGet('faq-1')).toBe('from the table');
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input.Key).toEqual({ pk: 'faq-1' });
  });

  it('loads the prefetched conversation only for its own key', async () => {
    const ports = portsWith({
      key: 'slack#T#C#U',
      context: Promise.resolve(context),
      cache: Promise.resolve(undefined),
    });
    expect((await ports.loadContext('slack#T#C#U')).handle).toBe(context);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    await ports.loadContext('slack#T#C#V');
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({
      Key: { pk: 'slack#T#C#V' },
      ConsistentRead: true,
    });
  });
});
