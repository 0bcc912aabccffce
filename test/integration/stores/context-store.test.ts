import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConfigError } from '#core/errors';
import type { CapacitySink } from '#stores/capacity';
import {
  ContextConflictError,
  ContextStore,
  type ContextStoreOptions,
  type ConversationContext,
  isTransactConflict,
} from '#stores/context-store';
import { type LocalTables, startLocalTables } from './dynalite-tables';

// One token per character keeps the budget arithmetic in these tests readable.
const tokenCount = (text: string): number => text.length;
const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const MINUTE = 60_000;

let tables: LocalTables;
let keySeq = 0;

beforeAll(async () => {
  tables = await startLocalTables();
});

afterAll(async () => {
  await tables.close();
});

/** A fresh conversation key per test, shaped like `platform#tenant#chat#user`. */
function freshKey(user = 'ou_alice'): string {
  keySeq += 1;
  return `feishu#tenant${keySeq}#oc_chat#${user}`;
}

function store(options: Partial<ContextStoreOptions> = {}): ContextStore {
  return new ContextStore(tables.doc, { tableName: tables.conversations, tokenCount, ...options });
}

function contents(context: ConversationContext): string[] {
  return context.turns.map((turn) => `${turn.role}:${turn.content}`);
}

async function rawItem(key: string): Promise<Record<string, unknown> | undefined> {
  const out = await tables.doc.send(new GetCommand({ TableName: tables.conversations, Key: { pk: key } }));
  return out.Item;
}

function recordingSink(): CapacitySink & { reads: number; writes: number } {
  const sink = {
    reads: 0,
    writes: 0,
    add(capacity: { read?: number; write?: number }) {
      sink.reads += capacity.read ?? 0;
      sink.writes += capacity.write ?? 0;
    },
  };
  return sink;
}

describe('ContextStore against dynalite', () => {
  it('loads an unknown key as an empty context at version 0', async () => {
    const loaded = await store().load(freshKey(), T0);
    expect(loaded).toEqual({ turns: [], version: 0, tokenCount: 0 });
  });

  it('carries the first exchange into the second turn and stores the documented item', async () => {
    const contexts = store();
    const key = freshKey();
    const first = await contexts.appendTurn(
      key,
      await contexts.load(key, T0),
      { user: 'What is our VPN?', assistant: 'WireGuard.', eventId: 'ev1' },
      T0,
    );
    expect(first).toMatchObject({ conflicts: 0, alreadySaved: false, context: { version: 1 } });

    const second = await contexts.load(key, T0 + MINUTE);
    expect(contents(second)).toEqual(['user:What is our VPN?', 'assistant:WireGuard.']);
    expect(second.version).toBe(1);
    expect(second.tokenCount).toBe('What is our VPN?'.length + 'WireGuard.'.length);

    await contexts.appendTurn(key, second, { user: 'Port?', assistant: '51820.', eventId: 'ev2' }, T0 + MINUTE);
    const third = await contexts.load(key, T0 + 2 * MINUTE);
    expect(contents(third)).toEqual([
      'user:What is our VPN?',
      'assistant:WireGuard.',
      'user:Port?',
      'assistant:51820.',
    ]);
    expect(third.version).toBe(2);
    expect(third.turns[2]).toEqual({ role: 'user', content: 'Port?', tokens: 5, at: T0 + MINUTE, eventId: 'ev2' });

    const item = await rawItem(key);
    expect(item).toMatchObject({
      pk: key,
      version: 2,
      tokenCount: third.tokenCount,
      updatedAt: T0 + MINUTE,
      expiresAt: Math.floor((T0 + MINUTE) / 1000) + 1800,
    });
  });

  it("keeps two members' contexts apart", async () => {
    const contexts = store();
    const alice = freshKey('ou_alice');
    const bob = alice.replace('ou_alice', 'ou_bob');
    await contexts.appendTurn(
      alice,
      await contexts.load(alice, T0),
      { user: 'a?', assistant: 'A.', eventId: 'e-a' },
      T0,
    );
    await contexts.appendTurn(bob, await contexts.load(bob, T0), { user: 'b?', assistant: 'B.', eventId: 'e-b' }, T0);

    expect(contents(await contexts.load(alice, T0))).toEqual(['user:a?', 'assistant:A.']);
    expect(contents(await contexts.load(bob, T0))).toEqual(['user:b?', 'assistant:B.']);
  });

  it('forgets the context 30 minutes after the last save though the item still exists, then overwrites it', async () => {
    const contexts = store();
    const key = freshKey();
    await contexts.appendTurn(key, await contexts.load(key, T0), { user: 'old', assistant: 'OLD', eventId: 'e1' }, T0);

    expect(contents(await contexts.load(key, T0 + 30 * MINUTE))).toEqual(['user:old', 'assistant:OLD']);
    const expired = await contexts.load(key, T0 + 30 * MINUTE + 1000);
    expect(expired).toEqual({ turns: [], version: 1, tokenCount: 0 });
    const stale = await rawItem(key);
    expect(stale?.version).toBe(1);
    expect(JSON.parse(String(stale?.history))).toMatchObject([{ content: 'old' }, { content: 'OLD' }]);

    const later = T0 + 31 * MINUTE;
    await contexts.appendTurn(key, expired, { user: 'new', assistant: 'NEW', eventId: 'e2' }, later);
    const reloaded = await contexts.load(key, later);
    expect(contents(reloaded)).toEqual(['user:new', 'assistant:NEW']);
    expect(reloaded.version).toBe(2);
  });

  it('honours a configured TTL', async () => {
    const contexts = store({ ttlSeconds: 60 });
    const key = freshKey();
    await contexts.appendTurn(key, await contexts.load(key, T0), { user: 'q', assistant: 'a', eventId: 'e1' }, T0);
    expect((await contexts.load(key, T0 + 60_000)).turns).toHaveLength(2);
    expect((await contexts.load(key, T0 + 61_000)).turns).toHaveLength(0);
  });

  it('drops the oldest exchanges to stay within maxTurns', async () => {
    const contexts = store({ maxTurns: 4 });
    const key = freshKey();
    let loaded = await contexts.load(key, T0);
    for (const n of [1, 2, 3]) {
      loaded = (await contexts.appendTurn(key, loaded, { user: `q${n}`, assistant: `a${n}`, eventId: `e${n}` }, T0))
        .context;
    }
    expect(contents(loaded)).toEqual(['user:q2', 'assistant:a2', 'user:q3', 'assistant:a3']);
    expect(contents(await contexts.load(key, T0))).toEqual(contents(loaded));
  });

  it('drops the oldest exchanges to stay within the token budget, whole exchanges only', async () => {
    const contexts = store({ maxTokens: 25 });
    const key = freshKey();
    let loaded = await contexts.load(key, T0);
    // Exchanges of 10, 10 and 12 tokens: all three (32) exceed 25, the last two (22) fit.
    const exchanges = [
      { user: '12345', assistant: 'abcde', eventId: 'e1' },
      { user: '1234', assistant: 'abcdef', eventId: 'e2' },
      { user: '123456', assistant: 'abcdef', eventId: 'e3' },
    ];
    for (const exchange of exchanges) loaded = (await contexts.appendTurn(key, loaded, exchange, T0)).context;

    const stored = await contexts.load(key, T0);
    expect(contents(stored)).toEqual(['user:1234', 'assistant:abcdef', 'user:123456', 'assistant:abcdef']);
    expect(stored.tokenCount).toBe(22);
    expect((await rawItem(key))?.tokenCount).toBe(22);
  });

  it('keeps the newest exchange even when it alone is over the token budget', async () => {
    const contexts = store({ maxTokens: 10 });
    const key = freshKey();
    const first = await contexts.appendTurn(
      key,
      await contexts.load(key, T0),
      { user: 'hi', assistant: 'yo', eventId: 'e1' },
      T0,
    );
    const big = { user: 'a long question', assistant: 'an even longer answer', eventId: 'e2' };
    const second = await contexts.appendTurn(key, first.context, big, T0);
    expect(contents(second.context)).toEqual(['user:a long question', 'assistant:an even longer answer']);
  });

  it('stores both of two concurrent appends from the same loaded version, each exchange whole', async () => {
    const contexts = store();
    const key = freshKey();
    await contexts.appendTurn(key, await contexts.load(key, T0), { user: 'q0', assistant: 'a0', eventId: 'e0' }, T0);
    const loaded = await contexts.load(key, T0);

    const results = await Promise.all([
      contexts.appendTurn(key, loaded, { user: 'q1', assistant: 'a1', eventId: 'e1' }, T0 + 1),
      contexts.appendTurn(key, loaded, { user: 'q2', assistant: 'a2', eventId: 'e2' }, T0 + 2),
    ]);
    expect(results.map((r) => r.conflicts).sort()).toEqual([0, 1]);

    const stored = await contexts.load(key, T0 + 3);
    expect(stored.version).toBe(3);
    const loser = results.find((r) => r.conflicts === 1);
    // The loser appended after the winner's turns, so its view is the stored one.
    expect(loser?.context).toEqual(stored);
    const winnerFirst = stored.turns[2]?.eventId === 'e1';
    const [a, b] = winnerFirst ? [1, 2] : [2, 1];
    expect(contents(stored)).toEqual([
      'user:q0',
      'assistant:a0',
      `user:q${a}`,
      `assistant:a${a}`,
      `user:q${b}`,
      `assistant:a${b}`,
    ]);
  });

  it('stores every one of several concurrent appends when maxAttempts covers the contention', async () => {
    const contexts = store({ maxAttempts: 4 });
    const key = freshKey();
    const loaded = await contexts.load(key, T0);
    await Promise.all(
      [1, 2, 3, 4].map((n) =>
        contexts.appendTurn(key, loaded, { user: `q${n}`, assistant: `a${n}`, eventId: `e${n}` }, T0),
      ),
    );
    const stored = await contexts.load(key, T0);
    expect(stored.version).toBe(4);
    expect(stored.turns.map((t) => t.eventId)).toHaveLength(8);
    expect(new Set(stored.turns.map((t) => t.eventId))).toEqual(new Set(['e1', 'e2', 'e3', 'e4']));
    for (let i = 0; i < 8; i += 2) {
      expect([stored.turns[i]?.role, stored.turns[i + 1]?.role]).toEqual(['user', 'assistant']);
      expect(stored.turns[i]?.eventId).toBe(stored.turns[i + 1]?.eventId);
    }
  });

  it('throws ContextConflictError after maxAttempts lost races, leaving the winner intact', async () => {
    const contexts = store({ maxAttempts: 1 });
    const key = freshKey();
    const loaded = await contexts.load(key, T0);
    const settled = await Promise.allSettled([
      contexts.appendTurn(key, loaded, { user: 'q1', assistant: 'a1', eventId: 'e1' }, T0),
      contexts.appendTurn(key, loaded, { user: 'q2', assistant: 'a2', eventId: 'e2' }, T0),
    ]);
    const rejected = settled.filter((s) => s.status === 'rejected');
    expect(rejected).toHaveLength(1);
    const reason = (rejected[0] as PromiseRejectedResult).reason;
    expect(reason).toBeInstanceOf(ContextConflictError);
    expect(reason).toMatchObject({ code: 'context_conflict', attempts: 1, httpStatus: 409 });
    const stored = await contexts.load(key, T0);
    expect(stored.version).toBe(1);
    expect(stored.turns).toHaveLength(2);
  });

  it('does not duplicate an exchange retried with the same eventId, from a stale or a fresh copy', async () => {
    const contexts = store();
    const key = freshKey();
    const empty = await contexts.load(key, T0);
    const exchange = { user: 'q', assistant: 'a', eventId: 'ev-retried' };
    await contexts.appendTurn(key, empty, exchange, T0);

    const fromStale = await contexts.appendTurn(key, empty, exchange, T0 + 1);
    expect(fromStale).toMatchObject({ alreadySaved: true, conflicts: 1 });

    const sink = recordingSink();
    const fromFresh = await contexts.appendTurn(key, await contexts.load(key, T0 + 2), exchange, T0 + 2, sink);
    expect(fromFresh).toMatchObject({ alreadySaved: true, conflicts: 0 });
    expect(sink.writes).toBe(0);

    const stored = await contexts.load(key, T0 + 3);
    expect(contents(stored)).toEqual(['user:q', 'assistant:a']);
    expect(stored.version).toBe(1);
  });

  it('clears a conversation, and a save racing from an older copy lands on the empty list', async () => {
    const contexts = store();
    const key = freshKey();
    await contexts.appendTurn(
      key,
      await contexts.load(key, T0),
      { user: 'secret', assistant: 'ok', eventId: 'e1' },
      T0,
    );
    const beforeReset = await contexts.load(key, T0);

    const cleared = await contexts.clear(key, T0 + 1);
    expect(cleared).toEqual({ turns: [], version: 2, tokenCount: 0 });
    expect(await contexts.load(key, T0 + 2)).toEqual({ turns: [], version: 2, tokenCount: 0 });

    const racing = await contexts.appendTurn(key, beforeReset, { user: 'q', assistant: 'a', eventId: 'e2' }, T0 + 3);
    expect(racing.conflicts).toBe(1);
    const stored = await contexts.load(key, T0 + 4);
    expect(contents(stored)).toEqual(['user:q', 'assistant:a']);
    expect(stored.version).toBe(3);
  });

  it('clears a key that never had an item', async () => {
    const contexts = store();
    const key = freshKey();
    expect(await contexts.clear(key, T0)).toEqual({ turns: [], version: 1, tokenCount: 0 });
    const next = await contexts.appendTurn(
      key,
      await contexts.load(key, T0),
      { user: 'q', assistant: 'a', eventId: 'e' },
      T0,
    );
    expect(next.context.version).toBe(2);
  });

  it('builds a conditional Put for a transaction that writes as PutItem and rejects a stale version', async () => {
    const contexts = store();
    const key = freshKey();
    const loaded = await contexts.load(key, T0);
    const plan = contexts.buildAppend(key, loaded, { user: 'q', assistant: 'a', eventId: 'e1' }, T0);
    if (plan.kind !== 'write') throw new Error(`expected a write plan, got ${plan.kind}`);
    expect(plan.transactItem.Put).toMatchObject({ TableName: tables.conversations, Item: { pk: key, version: 1 } });

    // dynalite has no TransactWriteItems; a transaction's Put has the shape of a PutItem request.
    await tables.doc.send(new PutCommand(plan.transactItem.Put));
    expect(await contexts.load(key, T0)).toEqual(plan.next);
    await expect(tables.doc.send(new PutCommand(plan.transactItem.Put))).rejects.toMatchObject({
      name: 'ConditionalCheckFailedException',
    });

    expect(contexts.buildAppend(key, plan.next, { user: 'q', assistant: 'a', eventId: 'e1' }, T0)).toEqual({
      kind: 'already_saved',
      next: plan.next,
    });
  });

  it('recognises a transaction cancelled by the context Put condition', () => {
    const cancelled = new TransactionCanceledException({
      message: 'Transaction cancelled',
      $metadata: {},
      CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
    });
    expect(isTransactConflict(cancelled, 0)).toBe(true);
    expect(isTransactConflict(cancelled, 1)).toBe(false);
    expect(isTransactConflict(cancelled, 2)).toBe(false);
    expect(isTransactConflict(new Error('ConditionalCheckFailed'), 0)).toBe(false);
  });

  it('reports consumed capacity for the cost ledger', async () => {
    const contexts = store();
    const key = freshKey();
    const sink = recordingSink();
    const loaded = await contexts.load(key, T0, sink);
    await contexts.appendTurn(key, loaded, { user: 'q', assistant: 'a', eventId: 'e1' }, T0, sink);
    await contexts.clear(key, T0, sink);
    expect(sink.reads).toBeGreaterThan(0);
    expect(sink.writes).toBeGreaterThanOrEqual(2);
  });

  it('drops stored turns that lack the documented shape', async () => {
    const key = freshKey();
    const good = { role: 'user', content: 'kept', tokens: 4, at: T0, eventId: 'e1' };
    await tables.doc.send(
      new PutCommand({
        TableName: tables.conversations,
        Item: {
          pk: key,
          version: 7,
          expiresAt: Math.floor(T0 / 1000) + 60,
          turns: [
            good,
            { role: 'system', content: 'x', tokens: 1, at: T0, eventId: 'e1' },
            { content: 'no role' },
            'text',
          ],
        },
      }),
    );
    expect(await store().load(key, T0)).toEqual({ turns: [good], version: 7, tokenCount: 4 });
  });

  it('stores the turns as one JSON string attribute', async () => {
    const contexts = store();
    const key = freshKey();
    await contexts.appendTurn(key, await contexts.load(key, T0), { user: 'q', assistant: 'a', eventId: 'e1' }, T0);
    const item = await rawItem(key);
    expect(item?.turns).toBeUndefined();
    expect(typeof item?.history).toBe('string');
    expect(JSON.parse(String(item?.history))).toEqual([
      { role: 'user', content: 'q', tokens: expect.any(Number), at: T0, eventId: 'e1' },
      { role: 'assistant', content: 'a', tokens: expect.any(Number), at: T0, eventId: 'e1' },
    ]);
  });

  it('reads an item of the earlier format (turns as a list), and the next save replaces it', async () => {
    const key = freshKey();
    const earlier = { role: 'user', content: 'before the upgrade', tokens: 4, at: T0, eventId: 'e0' };
    const answer = { role: 'assistant', content: 'ok', tokens: 1, at: T0, eventId: 'e0' };
    await tables.doc.send(
      new PutCommand({
        TableName: tables.conversations,
        Item: { pk: key, version: 2, expiresAt: Math.floor(T0 / 1000) + 60, turns: [earlier, answer] },
      }),
    );
    const contexts = store();
    const loaded = await contexts.load(key, T0);
    expect(loaded).toEqual({ turns: [earlier, answer], version: 2, tokenCount: 5 });

    await contexts.appendTurn(key, loaded, { user: 'q', assistant: 'a', eventId: 'e1' }, T0 + 1);
    const item = await rawItem(key);
    expect(item?.turns).toBeUndefined();
    expect(contents(await contexts.load(key, T0 + 2))).toEqual([
      'user:before the upgrade',
      'assistant:ok',
      'user:q',
      'assistant:a',
    ]);
  });

  it('clears an item of the earlier format, leaving no list behind', async () => {
    const key = freshKey();
    const turn = { role: 'user', content: 'secret', tokens: 2, at: T0, eventId: 'e0' };
    await tables.doc.send(
      new PutCommand({
        TableName: tables.conversations,
        Item: { pk: key, version: 1, expiresAt: Math.floor(T0 / 1000) + 60, turns: [turn] },
      }),
    );
    expect(await store().clear(key, T0)).toEqual({ turns: [], version: 2, tokenCount: 0 });
    const item = await rawItem(key);
    expect(item).toMatchObject({ history: '[]', version: 2 });
    expect(item?.turns).toBeUndefined();
  });

  it('treats a history that is not a JSON list as no turns, keeping the version', async () => {
    for (const history of ['{not json', '{"role":"user"}', '42']) {
      const key = freshKey();
      await tables.doc.send(
        new PutCommand({
          TableName: tables.conversations,
          Item: { pk: key, version: 5, expiresAt: Math.floor(T0 / 1000) + 60, history },
        }),
      );
      expect(await store().load(key, T0)).toEqual({ turns: [], version: 5, tokenCount: 0 });
    }
  });

  it('treats an item without expiresAt as absent but keeps its version', async () => {
    const key = freshKey();
    await tables.doc.send(
      new PutCommand({ TableName: tables.conversations, Item: { pk: key, version: 3, turns: [] } }),
    );
    expect(await store().load(key, T0)).toEqual({ turns: [], version: 3, tokenCount: 0 });
  });

  it('rejects invalid options, naming every problem', () => {
    let caught: unknown;
    try {
      store({ ttlSeconds: 0, maxTurns: 1, maxTokens: -5, maxAttempts: 1.5 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems).toEqual([
      'ContextStore ttlSeconds must be a positive integer, got 0',
      'ContextStore maxTurns must be an integer >= 2 (one exchange), got 1',
      'ContextStore maxTokens must be a positive integer, got -5',
      'ContextStore maxAttempts must be a positive integer, got 1.5',
    ]);
  });
});
