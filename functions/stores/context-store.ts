import {
  ConditionalCheckFailedException,
  type ReturnConsumedCapacity,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type TransactWriteCommandInput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConfigError, GroupGateError } from '#core/errors';
import type { DocumentClient } from '#shared/json-document-client';
import type { ItemRead } from './batch-get';
import type { CapacitySink } from './capacity';

/**
 * The conversations table (ARCHITECTURE §3): one item per conversation key holding a bounded list of turns.
 *
 * Item: `{pk, history: string (JSON of ContextTurn[]), tokenCount, version, updatedAt (epoch ms), expiresAt (epoch s)}`.
 * `version` rises by one on every write (appends and clears), so a writer holding a stale copy always fails its
 * condition; only DynamoDB's TTL deletion resets it, which happens long after any in-flight writer has finished.
 *
 * The turns are one string attribute, not a list of maps: every message reads and rewrites the whole list, and as a
 * list of maps each of up to 20 turns is five typed attribute values to marshal on both sides (about a hundred per
 * read and again per write) where one string is one. Items written before this format hold `turns` as a list; they
 * are read as before and replaced by the next save (a Put) or clear, so they are gone within one TTL.
 */
export interface ContextTurn {
  readonly role: 'user' | 'assistant';
  readonly content: string;
  /** `tokenCount(content)` when the turn was saved. */
  readonly tokens: number;
  /** Epoch ms of the save. */
  readonly at: number;
  /** The platform event that produced the exchange; both turns of one exchange share it. */
  readonly eventId: string;
}

export interface ConversationContext {
  /** Oldest first. Empty when the item is absent or expired. */
  readonly turns: readonly ContextTurn[];
  /** The stored item's version (0 when there is no item); the next save is conditional on it. */
  readonly version: number;
  readonly tokenCount: number;
}

/** One question and its answer, saved together so the history is always made of whole exchanges. */
export interface Exchange {
  readonly user: string;
  readonly assistant: string;
  readonly eventId: string;
}

type TransactWriteItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** A `TransactWriteItems` entry holding the conditional Put of the conversation item. */
export type TransactPut = TransactWriteItem & { readonly Put: NonNullable<TransactWriteItem['Put']> };

export type AppendPlan =
  | { readonly kind: 'write'; readonly transactItem: TransactPut; readonly next: ConversationContext }
  /** The exchange's eventId is already stored (a retried save): there is nothing to write. */
  | { readonly kind: 'already_saved'; readonly next: ConversationContext };

export interface AppendResult {
  readonly context: ConversationContext;
  /** Version conflicts resolved by re-loading; worth a metric. */
  readonly conflicts: number;
  readonly alreadySaved: boolean;
}

export interface ContextStoreOptions {
  readonly tableName: string;
  /** Token estimate for one message, the same one the prompt builder budgets with. */
  readonly tokenCount: (text: string) => number;
  /** Idle time after the last save before the context is forgotten. @default 1800 (30 min) */
  readonly ttlSeconds?: number;
  /** Messages kept (user and assistant each count one). @default 20 */
  readonly maxTurns?: number;
  /** Tokens kept across all stored turns. @default 3000 */
  readonly maxTokens?: number;
  /** Conditional writes tried by `appendTurn` before it gives up. @default 3 */
  readonly maxAttempts?: number;
}

/** `appendTurn` lost the optimistic-locking race `attempts` times in a row. Safe to retry the whole message. */
export class ContextConflictError extends GroupGateError {
  readonly code = 'context_conflict';
  readonly httpStatus = 409;
  constructor(
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(`The conversation was updated concurrently ${attempts} times; the turn was not saved.`, options);
  }
}

const RCC: ReturnConsumedCapacity = 'TOTAL';

export class ContextStore {
  private readonly ttlSeconds: number;
  private readonly maxTurns: number;
  private readonly maxTokens: number;
  private readonly maxAttempts: number;

  constructor(
    private readonly db: DocumentClient,
    private readonly options: ContextStoreOptions,
  ) {
    this.ttlSeconds = options.ttlSeconds ?? 1800;
    this.maxTurns = options.maxTurns ?? 20;
    this.maxTokens = options.maxTokens ?? 3000;
    this.maxAttempts = options.maxAttempts ?? 3;
    const problems = [
      ...positiveInteger('ttlSeconds', this.ttlSeconds),
      ...(Number.isSafeInteger(this.maxTurns) && this.maxTurns >= 2
        ? []
        : [`maxTurns must be an integer >= 2 (one exchange), got ${this.maxTurns}`]),
      ...positiveInteger('maxTokens', this.maxTokens),
      ...positiveInteger('maxAttempts', this.maxAttempts),
    ];
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `ContextStore ${p}`));
  }

  /**
   * One strongly consistent GetItem. An item past its `expiresAt` is treated as absent (DynamoDB deletes lazily),
   * but its version is kept so the next save overwrites it under the usual condition.
   */
  async load(key: string, now: number, capacity?: CapacitySink): Promise<ConversationContext> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: key },
        ConsistentRead: true,
        ReturnConsumedCapacity: RCC,
      }),
    );
    capacity?.add({ read: out.ConsumedCapacity?.CapacityUnits ?? 1 });
    return this.contextOf(out.Item, now);
  }

  /** `load` as one read of a batch (`readItems`): strongly consistent, so the save's version check holds. */
  itemRead(key: string): ItemRead {
    return { table: this.options.tableName, pk: key, consistent: true };
  }

  /** The context a read item holds (absent: none), as `load` returns it. */
  contextOf(item: Readonly<Record<string, unknown>> | undefined, now: number): ConversationContext {
    if (!item) return { turns: [], version: 0, tokenCount: 0 };
    const version = Number.isSafeInteger(item.version) && (item.version as number) > 0 ? (item.version as number) : 0;
    const live = typeof item.expiresAt === 'number' && item.expiresAt * 1000 >= now;
    // Turns that do not have the stored shape (hand edits, an older schema) are dropped rather than prompted with.
    const turns = live ? storedTurns(item).filter(isTurn) : [];
    return { turns, version, tokenCount: sumTokens(turns) };
  }

  /**
   * The conditional Put that appends `exchange` to `loaded`, for callers that write it in one TransactWriteItems
   * with other items, e.g. the worker's events-table "replied" update:
   *
   * ```ts
   * const plan = contexts.buildAppend(key, loaded, exchange, now);
   * const items = plan.kind === 'write' ? [plan.transactItem, repliedUpdate] : [repliedUpdate];
   * try { await doc.send(new TransactWriteCommand({ TransactItems: items, ReturnConsumedCapacity: 'TOTAL' })); }
   * catch (err) {
   *   if (!isTransactConflict(err, 0)) throw err;
   *   // Another writer won: save the replied status alone, then appendTurn (re-loads, idempotent by eventId).
   * }
   * ```
   *
   * A transaction costs twice the write units of the same writes made separately.
   */
  buildAppend(key: string, loaded: ConversationContext, exchange: Exchange, now: number): AppendPlan {
    if (loaded.turns.some((turn) => turn.eventId === exchange.eventId)) return { kind: 'already_saved', next: loaded };
    const added: ContextTurn[] = [
      this.turn('user', exchange.user, exchange.eventId, now),
      this.turn('assistant', exchange.assistant, exchange.eventId, now),
    ];
    const turns = trimOldestExchanges([...loaded.turns, ...added], this.maxTurns, this.maxTokens);
    const next: ConversationContext = { turns, version: loaded.version + 1, tokenCount: sumTokens(turns) };
    const Put: TransactPut['Put'] = {
      TableName: this.options.tableName,
      Item: {
        pk: key,
        history: JSON.stringify(turns),
        tokenCount: next.tokenCount,
        version: next.version,
        updatedAt: now,
        expiresAt: Math.floor(now / 1000) + this.ttlSeconds,
      },
      ...(loaded.version === 0
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : { ConditionExpression: 'version = :expected', ExpressionAttributeValues: { ':expected': loaded.version } }),
    };
    return { kind: 'write', transactItem: { Put }, next };
  }

  /**
   * Saves one exchange with optimistic locking: one conditional PutItem when nobody else wrote since `loaded`.
   * On a conflict it re-loads (GetItem) and appends after the winner's turns, so nothing is lost; an exchange whose
   * eventId is already stored is not written again. After `maxAttempts` conflicts it throws ContextConflictError.
   * Oldest exchanges are dropped to stay within `maxTurns` and `maxTokens`; the newest exchange is always kept.
   */
  async appendTurn(
    key: string,
    loaded: ConversationContext,
    exchange: Exchange,
    now: number,
    capacity?: CapacitySink,
  ): Promise<AppendResult> {
    let current = loaded;
    for (let attempt = 1; ; attempt++) {
      const plan = this.buildAppend(key, current, exchange, now);
      if (plan.kind === 'already_saved') return { context: plan.next, conflicts: attempt - 1, alreadySaved: true };
      try {
        const out = await this.db.send(new PutCommand({ ...plan.transactItem.Put, ReturnConsumedCapacity: RCC }));
        capacity?.add({ write: out.ConsumedCapacity?.CapacityUnits ?? 1 });
        return { context: plan.next, conflicts: attempt - 1, alreadySaved: false };
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        capacity?.add({ write: 1 });
        if (attempt >= this.maxAttempts) throw new ContextConflictError(attempt, { cause: err });
        current = await this.load(key, now, capacity);
      }
    }
  }

  /**
   * Forgets the conversation (`/reset`, `#清除记忆`): one unconditional UpdateItem that empties the turns and bumps
   * the version, so a save racing with it from an older copy fails its condition and re-applies onto the empty list.
   */
  async clear(key: string, now: number, capacity?: CapacitySink): Promise<ConversationContext> {
    const out = await this.db.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { pk: key },
        UpdateExpression:
          'SET history = :empty, tokenCount = :zero, updatedAt = :now, expiresAt = :exp ADD version :one REMOVE turns',
        ExpressionAttributeValues: {
          ':empty': '[]',
          ':zero': 0,
          ':one': 1,
          ':now': now,
          ':exp': Math.floor(now / 1000) + this.ttlSeconds,
        },
        ReturnValues: 'UPDATED_NEW',
        ReturnConsumedCapacity: RCC,
      }),
    );
    capacity?.add({ write: out.ConsumedCapacity?.CapacityUnits ?? 1 });
    return { turns: [], version: Number(out.Attributes?.version ?? 1), tokenCount: 0 };
  }

  private turn(role: ContextTurn['role'], content: string, eventId: string, now: number): ContextTurn {
    return { role, content, tokens: this.options.tokenCount(content), at: now, eventId };
  }
}

/** Whether a TransactWriteItems failed because the item at `index` (e.g. a `buildAppend` Put) failed its condition. */
export function isTransactConflict(err: unknown, index: number): boolean {
  return (
    err instanceof TransactionCanceledException && err.CancellationReasons?.[index]?.Code === 'ConditionalCheckFailed'
  );
}

/** Drops whole exchanges (turns sharing an eventId) from the front until both limits hold or one exchange is left. */
function trimOldestExchanges(turns: readonly ContextTurn[], maxTurns: number, maxTokens: number): ContextTurn[] {
  let kept = [...turns];
  while (kept.length > maxTurns || sumTokens(kept) > maxTokens) {
    const oldest = kept[0]?.eventId;
    const firstNewer = kept.findIndex((turn) => turn.eventId !== oldest);
    if (firstNewer === -1) break;
    kept = kept.slice(firstNewer);
  }
  return kept;
}

function sumTokens(turns: readonly ContextTurn[]): number {
  return turns.reduce((total, turn) => total + turn.tokens, 0);
}

/** The stored turns, unchecked: `history` (JSON), or the list an item written before that format holds. */
function storedTurns(item: Readonly<Record<string, unknown>>): unknown[] {
  if (typeof item.history === 'string') {
    try {
      const parsed: unknown = JSON.parse(item.history);
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }
  return Array.isArray(item.turns) ? item.turns : [];
}

function isTurn(value: unknown): value is ContextTurn {
  if (typeof value !== 'object' || value === null) return false;
  const turn = value as Record<string, unknown>;
  return (
    (turn.role === 'user' || turn.role === 'assistant') &&
    typeof turn.content === 'string' &&
    typeof turn.tokens === 'number' &&
    typeof turn.at === 'number' &&
    typeof turn.eventId === 'string'
  );
}

function positiveInteger(name: string, value: number): string[] {
  return Number.isSafeInteger(value) && value > 0 ? [] : [`${name} must be a positive integer, got ${value}`];
}
