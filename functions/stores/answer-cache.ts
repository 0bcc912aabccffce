import type { ReturnConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConfigError } from '#core/errors';
import type { DocumentClient } from '#shared/json-document-client';
import type { ItemRead } from './batch-get';
import type { CapacitySink } from './capacity';

/**
 * The answer cache (ARCHITECTURE §3): answers to frequent questions, keyed by `answerCacheKey` (a hash of the
 * normalised question and everything else that shapes the answer: model, prompt version, system prompt, reply-token
 * ceiling, temperature), kept for `ttlSeconds` (1 h by default).
 *
 * Only whole answers that do not depend on a conversation's history belong here (`runPipeline` decides: a question
 * asked with an empty context, answered to a natural end, without PII); the key holds no user or chat, so a cached
 * answer is served to anyone.
 * Item: `{pk, answer, modelId, promptVersion, createdAt (epoch ms), expiresAt (epoch s)}`.
 */
export interface CachedAnswerInput {
  readonly answer: string;
  readonly modelId: string;
  readonly promptVersion: string;
}

export type CacheLookup =
  | { readonly hit: true; readonly answer: string; readonly createdAt: number }
  | { readonly hit: false; readonly reason: 'absent' | 'expired' };

export type CachePutOutcome =
  | { readonly stored: true }
  /** `too_large`: over `maxAnswerBytes`; `empty`: a blank answer is a model fault, never worth serving again. */
  | { readonly stored: false; readonly reason: 'too_large' | 'empty' };

export interface AnswerCacheOptions {
  readonly tableName: string;
  /** @default 3600 (1 h) */
  readonly ttlSeconds?: number;
  /**
   * Longest answer cached, in UTF-8 bytes. FAQ answers are short; a long answer is unlikely to be asked for again
   * word for word, and a 16 KiB item already costs 2 read units per hit and 16 write units per put (DynamoDB
   * bills reads per 4 KB and writes per 1 KB), far below the 400 KB item limit.
   * @default 16_384
   */
  readonly maxAnswerBytes?: number;
}

const RCC: ReturnConsumedCapacity = 'TOTAL';

export class AnswerCache {
  private readonly ttlSeconds: number;
  private readonly maxAnswerBytes: number;

  constructor(
    private readonly db: DocumentClient,
    private readonly options: AnswerCacheOptions,
  ) {
    this.ttlSeconds = options.ttlSeconds ?? 3600;
    this.maxAnswerBytes = options.maxAnswerBytes ?? 16_384;
    const problems = [
      ...positiveInteger('ttlSeconds', this.ttlSeconds),
      ...positiveInteger('maxAnswerBytes', this.maxAnswerBytes),
    ];
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `AnswerCache ${p}`));
  }

  /** One eventually consistent GetItem (a just-written answer showing up a moment later costs nothing). */
  async get(key: string, now: number, capacity?: CapacitySink): Promise<CacheLookup> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.options.tableName, Key: { pk: key }, ReturnConsumedCapacity: RCC }),
    );
    capacity?.add({ read: out.ConsumedCapacity?.CapacityUnits ?? 0.5 });
    return this.lookupOf(out.Item, now);
  }

  /** `get` as one read of a batch (`readItems`). */
  itemRead(key: string): ItemRead {
    return { table: this.options.tableName, pk: key, consistent: false };
  }

  /** What a read item (absent: none) answers, as `get` returns it. */
  lookupOf(item: Readonly<Record<string, unknown>> | undefined, now: number): CacheLookup {
    if (!item || typeof item.answer !== 'string' || typeof item.createdAt !== 'number') {
      return { hit: false, reason: 'absent' };
    }
    // DynamoDB deletes expired items lazily, so expiry is checked here too.
    if (typeof item.expiresAt !== 'number' || item.expiresAt * 1000 < now) return { hit: false, reason: 'expired' };
    return { hit: true, answer: item.answer, createdAt: item.createdAt };
  }

  /** One unconditional PutItem (the last answer for a key wins), or no call at all when the answer is not cached. */
  async put(key: string, entry: CachedAnswerInput, now: number, capacity?: CapacitySink): Promise<CachePutOutcome> {
    if (entry.answer.trim() === '') return { stored: false, reason: 'empty' };
    if (Buffer.byteLength(entry.answer, 'utf8') > this.maxAnswerBytes) return { stored: false, reason: 'too_large' };
    const out = await this.db.send(
      new PutCommand({
        TableName: this.options.tableName,
        Item: {
          pk: key,
          answer: entry.answer,
          modelId: entry.modelId,
          promptVersion: entry.promptVersion,
          createdAt: now,
          expiresAt: Math.floor(now / 1000) + this.ttlSeconds,
        },
        ReturnConsumedCapacity: RCC,
      }),
    );
    capacity?.add({ write: out.ConsumedCapacity?.CapacityUnits ?? 1 });
    return { stored: true };
  }
}

function positiveInteger(name: string, value: number): string[] {
  return Number.isSafeInteger(value) && value > 0 ? [] : [`${name} must be a positive integer, got ${value}`];
}
