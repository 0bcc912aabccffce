import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ReplyTarget } from '#platforms/types';
import { DYNAMODB } from '#shared/aws-json-client';
import { EventReservations } from '#stores/event-reservations';
import { EventStore } from '#stores/event-store';
import type { AwsClients, LocalServer } from '../../../sandbox/local-aws/index';
import { type EventsTable, startEventsTable } from '../../helpers/events-table';
import { localJsonClient } from '../../helpers/local-aws-json';

/**
 * The stream sweeper's side of the events table on dynalite, with the `openSurfaces` index created from TABLE_SPECS
 * (as the sandbox and the CDK stack create it): which surfaces are due, the sweep claim's lease and fence, and the
 * swept reply that a redelivery then finds answered.
 */
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const LEASE_MS = 90_000;
const SWEEP_AFTER_MS = 1_800_000;

let table: EventsTable;
let server: LocalServer;
let clients: AwsClients;
let tableName: string;
let store: EventStore;
/** The webhook's reservation, where a test needs an event as the webhook leaves it (`enqueuing`). */
let reservations: EventReservations;

beforeAll(async () => {
  table = await startEventsTable('sweep-');
  ({ server, clients, tableName } = table);
  store = new EventStore(clients.doc, { tableName });
  reservations = new EventReservations(localJsonClient(DYNAMODB, server.endpoint), { tableName });
});
afterAll(async () => {
  await table.stop();
});

const target = (eventId: string): ReplyTarget => ({
  handle: { platform: 'slack', channel: 'C1', threadTs: '1700000000.000100' },
  format: 'markdown',
  mentionUserId: 'U1',
  idempotencyKey: eventId,
});

let seq = 0;
/** A fresh event key per test, so tests share the table without seeing each other's due surfaces by accident. */
const newPk = (label: string) => `slack#${label}-${++seq}`;

/**
 * An event the worker streamed: reserved, claimed, sending, its surface recorded at `openedAt` with sweep time
 * `openedAt + SWEEP_AFTER_MS`. Returns the worker's fencing token.
 */
async function streamed(pk: string, openedAt: number, eventStore = store, reserved = reservations): Promise<number> {
  await reserved.reserve(pk, openedAt - 2_000);
  const claim = await eventStore.claim(pk, openedAt - 1_000, LEASE_MS);
  if (claim.outcome !== 'claimed') throw new Error(`claim refused: ${claim.outcome}`);
  expect(await eventStore.markSending(pk, openedAt - 500, claim.attempts)).toBe(true);
  const opened = await eventStore.markReplyOpened(pk, openedAt, claim.attempts, {
    surface: { id: `surface-of-${pk}`, openedAt },
    sweepAt: openedAt + SWEEP_AFTER_MS,
    target: target(pk),
  });
  expect(opened).toBe(true);
  return claim.attempts;
}

const item = async (pk: string) =>
  (await clients.doc.send(new GetCommand({ TableName: tableName, Key: { pk }, ConsistentRead: true }))).Item;

const pksOf = (entries: readonly { pk: string }[]) => entries.map((e) => e.pk);

describe('listOpenSurfaces', () => {
  // Each case works 10 days after the one before: the surfaces earlier cases left open are past their retention
  // (24 h) there, so the listing leaves them out.
  it('returns only due, still-open surfaces, oldest first, with their surface, target and attempts', async () => {
    const t = NOW + 10 * 86_400_000;
    const due1 = newPk('due1');
    const due2 = newPk('due2');
    const notDue = newPk('not-due');
    const replied = newPk('replied');
    const plain = newPk('plain');
    await streamed(due2, t - SWEEP_AFTER_MS - 1_000);
    await streamed(due1, t - SWEEP_AFTER_MS - 5_000);
    await streamed(notDue, t - SWEEP_AFTER_MS + 60_000);
    await streamed(replied, t - SWEEP_AFTER_MS - 3_000);
    await store.markReplied(replied, t - SWEEP_AFTER_MS, { messageIds: ['ts-1'], fallback: false });
    // Answered as one message: never had a surface, so never in the index.
    await reservations.reserve(plain, t - 10_000);

    const entries = await store.listOpenSurfaces(t, 50);

    expect(pksOf(entries)).toEqual([due1, due2]);
    expect(entries[0]).toEqual({
      kind: 'open',
      pk: due1,
      surface: { id: `surface-of-${due1}`, openedAt: t - SWEEP_AFTER_MS - 5_000 },
      target: target(due1),
      attempts: 1,
    });
  });

  it('includes a surface exactly at its sweep time', async () => {
    const t = NOW + 20 * 86_400_000;
    const pk = newPk('edge');
    await streamed(pk, t - SWEEP_AFTER_MS);
    expect(pksOf(await store.listOpenSurfaces(t, 10))).toEqual([pk]);
    expect(await store.listOpenSurfaces(t - 1, 10)).toEqual([]);
  });

  it('stops at the limit, oldest first', async () => {
    const t = NOW + 30 * 86_400_000;
    const pks = [newPk('p1'), newPk('p2'), newPk('p3')];
    for (const [i, pk] of pks.entries()) await streamed(pk, t - SWEEP_AFTER_MS - 10_000 + i * 1_000);
    expect(pksOf(await store.listOpenSurfaces(t, 2))).toEqual(pks.slice(0, 2));
    expect(pksOf(await store.listOpenSurfaces(t, 3))).toEqual(pks);
    expect(await store.listOpenSurfaces(t, 0)).toEqual([]);
  });

  it('leaves out items past their retention (TTL deletes them lazily)', async () => {
    const t = NOW + 40 * 86_400_000;
    const shortLived = new EventStore(clients.doc, { tableName, retentionSeconds: 3_600 });
    const shortReservations = new EventReservations(localJsonClient(DYNAMODB, server.endpoint), {
      tableName,
      retentionSeconds: 3_600,
    });
    const expired = newPk('expired');
    const live = newPk('live');
    await streamed(expired, t - 2 * 3_600_000, shortLived, shortReservations);
    await streamed(live, t - SWEEP_AFTER_MS - 1_000);
    expect(pksOf(await store.listOpenSurfaces(t, 10))).toEqual([live]);
    // The expired item fills the first page of one and is filtered out: the listing pages on to reach the limit.
    expect(pksOf(await store.listOpenSurfaces(t, 1))).toEqual([live]);
  });

  it('reports an item whose target cannot be read as unreadable, with the reason', async () => {
    const t = NOW + 50 * 86_400_000;
    const bad = newPk('bad-target');
    const noSurface = newPk('no-surface');
    const common = { status: 'sending', attempts: 1, openSurface: 'open', expiresAt: Math.floor(t / 1000) + 3_600 };
    await clients.doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...common,
          pk: bad,
          surfaceSweepAt: t - 2_000,
          surfaceId: 's-1',
          surfaceOpenedAt: t - 10_000,
          replyTarget: JSON.stringify({ handle: { platform: 'irc' }, format: 'text', idempotencyKey: 'x' }),
        },
      }),
    );
    await clients.doc.send(
      new PutCommand({ TableName: tableName, Item: { ...common, pk: noSurface, surfaceSweepAt: t - 1_000 } }),
    );

    const entries = await store.listOpenSurfaces(t, 10);

    expect(entries).toEqual([
      { kind: 'unreadable', pk: bad, attempts: 1, reason: expect.stringMatching(/^replyTarget: handle/) },
      { kind: 'unreadable', pk: noSurface, attempts: 1, reason: 'no surfaceId/surfaceOpenedAt' },
    ]);
  });
});

describe('claimForSweep', () => {
  it('refuses while the worker lease is live, then takes it with the next fencing token', async () => {
    const pk = newPk('leased');
    const opened = NOW + 60 * 86_400_000;
    const workerAttempts = await streamed(pk, opened);
    const leaseEnd = opened - 1_000 + LEASE_MS;

    expect(await store.claimForSweep(pk, leaseEnd - 1, 55_000)).toBeUndefined();
    const attempts = await store.claimForSweep(pk, leaseEnd + 1, 55_000);

    expect(attempts).toBe(workerAttempts + 1);
    expect(await item(pk)).toMatchObject({
      status: 'processing',
      attempts: workerAttempts + 1,
      leaseUntil: leaseEnd + 1 + 55_000,
      openSurface: 'open',
    });
  });

  it('refuses a second sweeper while the first holds the lease, and moves the sweep time past that lease', async () => {
    const t = NOW + 70 * 86_400_000;
    const pk = newPk('two-sweepers');
    await streamed(pk, t - SWEEP_AFTER_MS - 1_000);

    expect(await store.claimForSweep(pk, t, 55_000)).toBe(2);
    expect(await store.claimForSweep(pk, t + 1_000, 55_000)).toBeUndefined();
    // Not due while leased: a surface the sweeper failed on goes behind the others until its lease has run out.
    expect(pksOf(await store.listOpenSurfaces(t + 54_999, 10))).toEqual([]);
    expect(pksOf(await store.listOpenSurfaces(t + 55_000, 10))).toEqual([pk]);
    expect(await store.claimForSweep(pk, t + 55_001, 55_000)).toBe(3);
  });

  it('refuses an event whose reply settled, and one that never had a surface', async () => {
    const settled = newPk('settled');
    const opened = NOW + 80 * 86_400_000;
    await streamed(settled, opened);
    await store.markReplied(settled, opened + 5_000, { messageIds: ['ts-9'], fallback: false });
    const plain = newPk('never-streamed');
    await reservations.reserve(plain, opened);

    expect(await store.claimForSweep(settled, opened + 10 * LEASE_MS, 55_000)).toBeUndefined();
    expect(await store.claimForSweep(plain, opened + 10 * LEASE_MS, 55_000)).toBeUndefined();
    expect(await store.claimForSweep(newPk('absent'), opened, 55_000)).toBeUndefined();
    expect(await item(settled)).toMatchObject({ status: 'replied', replyMessageIds: ['ts-9'] });
  });

  it('makes a redelivery arriving during the sweep find the event in progress', async () => {
    const pk = newPk('redelivered-during');
    const opened = NOW + 90 * 86_400_000;
    await streamed(pk, opened);
    const at = opened + SWEEP_AFTER_MS;
    await store.claimForSweep(pk, at, 55_000);
    expect(await store.claim(pk, at + 1_000, LEASE_MS, undefined, { resumeSending: true })).toEqual({
      outcome: 'in_progress',
      leaseUntil: at + 55_000,
    });
  });
});

describe('markSwept', () => {
  it('settles the reply as the fallback: a redelivery then finds it already replied, and it leaves the index', async () => {
    const pk = newPk('swept');
    const opened = NOW + 100 * 86_400_000;
    await streamed(pk, opened);
    const at = opened + SWEEP_AFTER_MS;
    const attempts = await store.claimForSweep(pk, at, 55_000);
    if (attempts === undefined) throw new Error('claim refused');

    expect(await store.markSwept(pk, at + 2_000, attempts, [`surface-of-${pk}`])).toBe(true);

    const after = await item(pk);
    expect(after).toMatchObject({
      status: 'replied',
      fallback: true,
      replyMessageIds: [`surface-of-${pk}`],
      updatedAt: at + 2_000,
      surfaceId: `surface-of-${pk}`,
    });
    expect(after).not.toHaveProperty('openSurface');
    expect(after).not.toHaveProperty('surfaceSweepAt');
    expect(after).not.toHaveProperty('leaseUntil');
    expect(await store.listOpenSurfaces(at + 10 * 60_000, 50)).not.toContainEqual(expect.objectContaining({ pk }));
    expect(await store.claim(pk, at + 60_000, LEASE_MS, undefined, { resumeSending: true })).toEqual({
      outcome: 'already_replied',
      replyMessageIds: [`surface-of-${pk}`],
    });
    expect(await store.claimForSweep(pk, at + 10 * 60_000, 55_000)).toBeUndefined();
  });

  it('is fenced: after the lease ran out and a worker took the event over, the stale sweeper cannot mark it', async () => {
    const pk = newPk('fenced');
    const opened = NOW + 110 * 86_400_000;
    await streamed(pk, opened);
    const at = opened + SWEEP_AFTER_MS;
    const stale = await store.claimForSweep(pk, at, 55_000);
    if (stale === undefined) throw new Error('claim refused');
    const takeover = await store.claim(pk, at + 56_000, LEASE_MS);
    expect(takeover).toMatchObject({
      outcome: 'claimed',
      attempts: stale + 1,
      openedSurface: { id: `surface-of-${pk}` },
    });

    expect(await store.markSwept(pk, at + 57_000, stale, ['x'])).toBe(false);
    expect(await item(pk)).toMatchObject({ status: 'processing', attempts: stale + 1, openSurface: 'open' });
  });
});

describe("claim with resumeSending 'with_surface' (streamed replies on platforms that cannot deduplicate)", () => {
  it('takes over a crashed streamed reply whose surface is recorded, and reports the surface', async () => {
    const pk = newPk('resume-surface');
    const at = Date.now();
    await streamed(pk, at);
    const claim = await store.claim(pk, at + LEASE_MS + 1, LEASE_MS, undefined, { resumeSending: 'with_surface' });
    expect(claim).toMatchObject({ outcome: 'claimed', openedSurface: { id: `surface-of-${pk}`, openedAt: at } });
  });

  it('leaves a `sending` event without a recorded surface as delivery unknown: a plain message may be out', async () => {
    const pk = newPk('resume-no-surface');
    const at = Date.now();
    await reservations.reserve(pk, at - 2_000);
    const first = await store.claim(pk, at - 1_000, LEASE_MS);
    if (first.outcome !== 'claimed') throw new Error('claim refused');
    expect(await store.markSending(pk, at, first.attempts)).toBe(true);
    expect(await store.claim(pk, at + LEASE_MS + 1, LEASE_MS, undefined, { resumeSending: 'with_surface' })).toEqual({
      outcome: 'delivery_unknown',
    });
  });
});
