import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createSweeperRuntime, type SweepLogger } from '#composition/sweeper-runtime';
import { DEFAULT_MESSAGES } from '#core/pipeline-messages';
import { openStreamingSession, type SurfaceOps } from '#platforms/shared/streaming-session';
import type { ChatPlatform, ReplyTarget } from '#platforms/types';
import { DYNAMODB } from '#shared/aws-json-client';
import { EventReservations } from '#stores/event-reservations';
import { EventStore } from '#stores/event-store';
import type { AwsClients, LocalServer } from '../../../sandbox/local-aws/index';
import { type EventsTable, startEventsTable } from '../../helpers/events-table';
import { fakePlatform } from '../../helpers/factories';
import { localJsonClient } from '../../helpers/local-aws-json';

/**
 * The sweeper over the real events table: a worker streamed a reply, recorded its surface and died; no delivery
 * finished it. The sweep writes the note over that surface, and the redelivery that comes after finds the event
 * answered (no second reply). A surface whose platform call fails stays due for a later run.
 */
const OPENED = Date.UTC(2026, 2, 1, 9, 0, 0);
const SWEEP_AFTER_MS = 1_800_000;

let table: EventsTable;
let server: LocalServer;
let clients: AwsClients;
let store: EventStore;
let tableName: string;

beforeAll(async () => {
  table = await startEventsTable('stream-sweep-');
  ({ server, clients, tableName } = table);
  store = new EventStore(clients.doc, { tableName });
});

/** The webhook's reservation: the event as the webhook leaves it (`enqueuing`). */
const reserve = (pk: string, now: number) =>
  new EventReservations(localJsonClient(DYNAMODB, server.endpoint), { tableName }).reserve(pk, now);
afterAll(async () => {
  await table.stop();
});

const target = (eventId: string): ReplyTarget => ({
  handle: { platform: 'slack', channel: 'C9', threadTs: '1.9' },
  format: 'markdown',
  idempotencyKey: eventId,
});

/** A worker that streamed a reply and died after recording its surface (status `sending`, lease run out). */
async function crashedMidStream(pk: string): Promise<void> {
  await reserve(pk, OPENED - 2_000);
  const claim = await store.claim(pk, OPENED - 1_000, 90_000);
  if (claim.outcome !== 'claimed') throw new Error('claim refused');
  await store.markSending(pk, OPENED - 500, claim.attempts);
  await store.markReplyOpened(pk, OPENED, claim.attempts, {
    surface: { id: `ts-${pk}`, openedAt: OPENED },
    sweepAt: OPENED + SWEEP_AFTER_MS,
    target: target(pk),
  });
}

/** Slack-like surface: text per surface id; `broken` surfaces refuse every write. */
function platformWithSurfaces(shown: Map<string, string>, broken: Set<string>): ChatPlatform {
  const write = async (id: string, text: string) => {
    if (broken.has(id)) throw new Error(`message_not_found: ${id}`);
    shown.set(id, text);
  };
  const ops: SurfaceOps = {
    minIntervalMs: 0,
    calls: () => 0,
    open: async () => {
      throw new Error('the sweeper must not open a surface');
    },
    resume: (surface, text) => write(surface.id, text),
    push: (surface, text) => write(surface.id, text),
    finish: async (surface, text) => {
      await write(surface.id, text);
      return { messageIds: [surface.id] };
    },
    fail: async (surface, text) => {
      await write(surface.id, text);
      return { messageIds: [surface.id] };
    },
    sendWhole: async () => {
      throw new Error('the sweeper must not send a new message');
    },
  };
  return {
    ...fakePlatform('slack'),
    streaming: true,
    openReply: async (_target, options = {}) =>
      openStreamingSession(ops, options, { now: Date.now, sleep: async () => undefined }),
  };
}

const silent: SweepLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

it('finishes an abandoned surface once, and the later redelivery does not answer again', async () => {
  const pk = 'slack#abandoned';
  const failing = 'slack#deleted-message';
  await crashedMidStream(pk);
  await crashedMidStream(failing);
  const shown = new Map([[`ts-${pk}`, 'Half an ans']]);
  const broken = new Set([`ts-${failing}`]);
  let now = OPENED + SWEEP_AFTER_MS - 1;
  const sweep = createSweeperRuntime({
    store,
    platformFor: async (name) => (name === 'slack' ? platformWithSurfaces(shown, broken) : undefined),
    note: DEFAULT_MESSAGES.replyAbandoned,
    leaseMs: 55_000,
    log: silent,
    now: () => now,
  });

  // Not yet: a redelivery may still come and finish it.
  expect(await sweep()).toMatchObject({ due: 0 });
  expect(shown.get(`ts-${pk}`)).toBe('Half an ans');

  now = OPENED + SWEEP_AFTER_MS;
  expect(await sweep()).toMatchObject({ due: 2, swept: 1, failed: 1 });
  expect(shown.get(`ts-${pk}`)).toBe(DEFAULT_MESSAGES.replyAbandoned);
  const { Item } = await clients.doc.send(new GetCommand({ TableName: tableName, Key: { pk } }));
  expect(Item).toMatchObject({ status: 'replied', fallback: true, replyMessageIds: [`ts-${pk}`] });
  expect(await store.claim(pk, now + 1_000, 90_000, undefined, { resumeSending: true })).toEqual({
    outcome: 'already_replied',
    replyMessageIds: [`ts-${pk}`],
  });

  // The failed one waits out its lease, then is due again; the swept one is gone from the index.
  now += 30_000;
  expect(await sweep()).toMatchObject({ due: 0 });
  broken.clear();
  now += 30_000;
  expect(await sweep()).toMatchObject({ due: 1, swept: 1 });
  expect(shown.get(`ts-${failing}`)).toBe(DEFAULT_MESSAGES.replyAbandoned);
  expect(await sweep()).toMatchObject({ due: 0 });
});
