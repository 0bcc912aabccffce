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
  ddb.on(GetCommand).callsFake((input: { Key: { pk: string } }) => ({
    Item: { pk: input.Key.pk, answer: 'from the table', createdAt: NOW, expiresAt: NOW / 1000 + 60 },
  }));
});

/** The FAQ item the worker's batch read for `readKey`, as the pipeline receives it. */
function prefetchedEntry(readKey: string, item: Record<string, unknown> | undefined) {
  return Promise.resolve(pipeline.cache.entryOf(readKey, item, NOW));
}
const live = { createdAt: NOW, expiresAt: NOW / 1000 + 60 };

afterAll(() => ddb.restore());

describe('prefetched reads in the pipeline ports', () => {
  it('answers the FAQ lookup of the prefetched key from the prefetch, without a read', async () => {
    const ports = portsWith({
      key: 'slack#T#C#U',
      context: Promise.resolve(context),
      cache: prefetchedEntry('faq-1', { pk: 'faq-1', answer: 'from the prefetch', ...live }),
    });
    expect(await ports.cacheGet('faq-1')).toBe('from the prefetch');
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('a prefetched miss is a miss, without a second read', async () => {
    const ports = portsWith({
      key: 'slack#T#C#U',
      context: Promise.resolve(context),
      cache: prefetchedEntry('faq-1', undefined),
    });
    expect(await ports.cacheGet('faq-1')).toBeUndefined();
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('answers a profile variant of the prefetched entry from the same read, hit or miss', async () => {
    const ports = portsWith({
      key: 'slack#T#C#U',
      context: Promise.resolve(context),
      cache: prefetchedEntry('faq-1:group', {
        pk: 'faq-1',
        answer: 'plain',
        ...live,
        variants: new Set(['group', 'mine']),
        v_group: { answer: 'for the group', createdAt: NOW },
        v_mine: { answer: 'for me', createdAt: NOW },
      }),
    });
    expect(await ports.cacheGet('faq-1:mine')).toBe('for me');
    expect(await ports.cacheGet('faq-1:group')).toBe('for the group');
    expect(await ports.cacheGet('faq-1')).toBe('plain');
    expect(await ports.cacheGet('faq-1:other')).toBeUndefined();
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it.each([
    ['another key was prefetched', prefetchedEntry('faq-other', { pk: 'faq-other', answer: 'not this one', ...live })],
    ['another entry was prefetched, under the same variant', prefetchedEntry('faq-other:v', undefined)],
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
