import { ConditionalCheckFailedException, type ReturnConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { splitAnswerCacheKey } from '#core/answer-cache-key';
import { ConfigError } from '#core/errors';
import type { DocumentClient } from '#shared/json-document-client';
import type { ItemRead } from './batch-get';
import type { CapacitySink } from './capacity';

/**
 * The answer cache (ARCHITECTURE §3): answers to frequent questions, keyed by `answerCacheKey` (a hash of the
 * normalised question and everything else that shapes the answer: model, prompt version, system prompt, reply-token
 * ceiling, temperature, and the asker's profile block as a variant), each kept for `ttlSeconds` (1 h by default).
 *
 * Only whole answers that do not depend on a conversation's history belong here (`runPipeline` decides: a question
 * asked with an empty context, answered to a natural end, without PII); the key holds no user or chat, so a cached
 * answer is served to anyone whose input is the same.
 *
 * One item per entry (the key's part before `:`), holding every variant of it, so one read answers any asker:
 * `{pk, answer, modelId, promptVersion, createdAt (epoch ms), expiresAt (epoch s), variants: string set,
 * v_<variant>: {answer, modelId, promptVersion, createdAt}}`. The top-level answer is the plain one (no profile
 * shaping), as items were before variants. An answer is live until its own `createdAt` + TTL; the item's `expiresAt`
 * (DynamoDB's TTL) follows its latest write. At most `maxVariants` variants are stored per entry, which bounds the
 * item (and the read units a lookup costs) whatever mix of profiles asks; expired ones give their slots up when a new
 * variant needs one (`put`).
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
  /**
   * `too_large`: over `maxAnswerBytes`; `empty`: a blank answer is a model fault, never worth serving again;
   * `variants_full`: the entry already holds `maxVariants` other variants.
   */
  | { readonly stored: false; readonly reason: 'too_large' | 'empty' | 'variants_full' };

/** One read item: the answers of every key of its entry (`covers`), the plain one and each variant. */
export interface CachedEntry {
  covers(key: string): boolean;
  lookup(key: string): CacheLookup;
}

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
  /** Profile variants stored per entry while its item lives (16 KiB answers: 8 keep it under 150 KB). @default 8 */
  readonly maxVariants?: number;
}

const RCC: ReturnConsumedCapacity = 'TOTAL';

export class AnswerCache {
  private readonly ttlSeconds: number;
  private readonly maxAnswerBytes: number;
  private readonly maxVariants: number;

  constructor(
    private readonly db: DocumentClient,
    private readonly options: AnswerCacheOptions,
  ) {
    this.ttlSeconds = options.ttlSeconds ?? 3600;
    this.maxAnswerBytes = options.maxAnswerBytes ?? 16_384;
    this.maxVariants = options.maxVariants ?? 8;
    const problems = [
      ...positiveInteger('ttlSeconds', this.ttlSeconds),
      ...positiveInteger('maxAnswerBytes', this.maxAnswerBytes),
      ...positiveInteger('maxVariants', this.maxVariants),
    ];
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `AnswerCache ${p}`));
  }

  /** One eventually consistent GetItem (a just-written answer showing up a moment later costs nothing). */
  async get(key: string, now: number, capacity?: CapacitySink): Promise<CacheLookup> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: splitAnswerCacheKey(key).entry },
        ReturnConsumedCapacity: RCC,
      }),
    );
    capacity?.add({ read: out.ConsumedCapacity?.CapacityUnits ?? 0.5 });
    return this.entryOf(key, out.Item, now).lookup(key);
  }

  /** The item of `key`'s entry as one read of a batch (`readItems`); `entryOf` then answers every key it covers. */
  itemRead(key: string): ItemRead {
    return { table: this.options.tableName, pk: splitAnswerCacheKey(key).entry, consistent: false };
  }

  /**
   * What the item read for `readKey` (`itemRead`; undefined when there was none) answers for each key of the same
   * entry, as `get` would: a key of another entry is not `covers`ed and looks up as absent.
   */
  entryOf(readKey: string, item: Readonly<Record<string, unknown>> | undefined, now: number): CachedEntry {
    const pk = splitAnswerCacheKey(readKey).entry;
    const ttlMs = this.ttlSeconds * 1000;
    return {
      covers: (key) => splitAnswerCacheKey(key).entry === pk,
      lookup: (key): CacheLookup => {
        const { entry, variant } = splitAnswerCacheKey(key);
        if (!item || entry !== pk || item.pk !== pk) return { hit: false, reason: 'absent' };
        const stored = variant === undefined ? item : item[variantAttribute(variant)];
        if (!isStoredAnswer(stored)) return { hit: false, reason: 'absent' };
        // DynamoDB deletes expired items lazily, and a variant write keeps the item alive: each answer's own age.
        const itemLive = typeof item.expiresAt === 'number' && item.expiresAt * 1000 >= now;
        if (!itemLive || stored.createdAt + ttlMs < now) return { hit: false, reason: 'expired' };
        return { hit: true, answer: stored.answer, createdAt: stored.createdAt };
      },
    };
  }

  /**
   * One UpdateItem (the last answer for a key wins; the entry's other answers are kept), or no call at all when the
   * answer is not cached. A new variant needs a free slot (`maxVariants`); when the entry is full, the variants whose
   * answers have expired are removed (a consistent GetItem, then one conditional UpdateItem) and the write is tried
   * once more, so a busy question, whose item every write keeps alive, does not keep its first shapings' slots
   * forever. `variants_full` when every slot holds a live answer.
   */
  async put(key: string, entry: CachedAnswerInput, now: number, capacity?: CapacitySink): Promise<CachePutOutcome> {
    if (entry.answer.trim() === '') return { stored: false, reason: 'empty' };
    if (Buffer.byteLength(entry.answer, 'utf8') > this.maxAnswerBytes) return { stored: false, reason: 'too_large' };
    const { entry: pk, variant } = splitAnswerCacheKey(key);
    const expiresAt = Math.floor(now / 1000) + this.ttlSeconds;
    const answer = { answer: entry.answer, modelId: entry.modelId, promptVersion: entry.promptVersion, createdAt: now };
    if (variant === undefined) {
      await this.update(
        pk,
        {
          UpdateExpression: 'SET answer = :a, modelId = :m, promptVersion = :p, createdAt = :c, expiresAt = :e',
          ExpressionAttributeValues: {
            ':a': answer.answer,
            ':m': answer.modelId,
            ':p': answer.promptVersion,
            ':c': now,
            ':e': expiresAt,
          },
        },
        capacity,
      );
      return { stored: true };
    }
    const putVariant = () =>
      this.update(
        pk,
        {
          UpdateExpression: 'SET #v = :answer, expiresAt = :e ADD variants :name',
          // A variant already stored is replaced; a new one only while there is room.
          ConditionExpression: 'attribute_exists(#v) OR attribute_not_exists(variants) OR size(variants) < :max',
          ExpressionAttributeNames: { '#v': variantAttribute(variant) },
          ExpressionAttributeValues: {
            ':answer': answer,
            ':e': expiresAt,
            ':name': new Set([variant]),
            ':max': this.maxVariants,
          },
        },
        capacity,
      );
    if (await putVariant()) return { stored: true };
    if ((await this.removeExpiredVariants(pk, now, capacity)) && (await putVariant())) return { stored: true };
    return { stored: false, reason: 'variants_full' };
  }

  /** One UpdateItem on `pk`; false when its condition failed (booked as one write unit: DynamoDB returns no figure). */
  private async update(
    pk: string,
    expression: Pick<
      ConstructorParameters<typeof UpdateCommand>[0],
      'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
    capacity: CapacitySink | undefined,
  ): Promise<boolean> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk },
          ...expression,
          ReturnConsumedCapacity: RCC,
        }),
      );
      capacity?.add({ write: out.ConsumedCapacity?.CapacityUnits ?? 1 });
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      capacity?.add({ write: 1 });
      return false;
    }
  }

  /**
   * Frees the slots of variants whose answers have expired: their attributes and names go in one UpdateItem,
   * conditional on each answer still being the one read, so an answer rewritten meanwhile is kept. Whether any slot
   * was freed.
   */
  private async removeExpiredVariants(pk: string, now: number, capacity?: CapacitySink): Promise<boolean> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk },
        ConsistentRead: true,
        ReturnConsumedCapacity: RCC,
      }),
    );
    capacity?.add({ read: out.ConsumedCapacity?.CapacityUnits ?? 1 });
    const item = out.Item;
    const names = item?.variants instanceof Set ? [...item.variants].filter((n) => typeof n === 'string') : [];
    const ttlMs = this.ttlSeconds * 1000;
    const expired = names.filter((name: string) => {
      const stored = item?.[variantAttribute(name)];
      return !isStoredAnswer(stored) || stored.createdAt + ttlMs < now;
    });
    if (expired.length === 0) return false;
    const attributeNames: Record<string, string> = {};
    const values: Record<string, unknown> = { ':expired': new Set(expired) };
    const unchanged: string[] = [];
    expired.forEach((name: string, i: number) => {
      attributeNames[`#v${i}`] = variantAttribute(name);
      const stored = item?.[variantAttribute(name)];
      if (isStoredAnswer(stored)) {
        values[`:c${i}`] = stored.createdAt;
        unchanged.push(`#v${i}.createdAt = :c${i}`);
      } else {
        unchanged.push(`attribute_not_exists(#v${i})`);
      }
    });
    return this.update(
      pk,
      {
        UpdateExpression: `REMOVE ${Object.keys(attributeNames).join(', ')} DELETE variants :expired`,
        ConditionExpression: unchanged.join(' AND '),
        ExpressionAttributeNames: attributeNames,
        ExpressionAttributeValues: values,
      },
      capacity,
    );
  }
}

function variantAttribute(variant: string): string {
  return `v_${variant}`;
}

interface StoredAnswer {
  readonly answer: string;
  readonly createdAt: number;
}

function isStoredAnswer(value: unknown): value is StoredAnswer {
  if (typeof value !== 'object' || value === null) return false;
  const stored = value as Record<string, unknown>;
  return typeof stored.answer === 'string' && typeof stored.createdAt === 'number';
}

function positiveInteger(name: string, value: number): string[] {
  return Number.isSafeInteger(value) && value > 0 ? [] : [`${name} must be a positive integer, got ${value}`];
}
