import { groupKey } from '#core/conversation-key';
import { ValidationError } from '#core/errors';
import { displayKey, keyPart } from '#core/key-part';
import type { LedgerPlatform } from '#platforms/types';
import {
  COST_COMPONENTS,
  type ComponentAmounts,
  type CostBreakdown,
  type CostComponent,
  type InvocationUsage,
} from './cost-model';
import { nanoToUsd } from './exact';

/** Which model answered: the configured (primary) model, or the fallback asked when the primary could not. */
export type ModelSource = 'primary' | 'fallback';

/**
 * One item of the ledger table (functions/shared/table-specs.ts), one per model invocation. It is also exactly
 * what `GET /_sandbox/ledger` serves, so it explains itself: who, when, which model, what was measured
 * (`usage`), what it was priced from (`quantities`, `priceTableVersion`, `region`, `priceFallbacks`) and what it
 * cost per component (`components`, USD) with `totalUsd` their exact sum.
 */
export interface LedgerRow extends CostBreakdown {
  /** `GROUP#platform#tenant#chat` (parts escaped, or hashed when long, as in `groupKey`). */
  readonly pk: string;
  /** `<ISO time>#<invocation id>`: time-ordered within a group, unique per invocation (id bounded by `keyPart`). */
  readonly sk: string;
  /** UTC `YYYY-MM-DD`, the partition key of the `byDay` index. */
  readonly day: string;
  /** Epoch seconds: `at` + retention. DynamoDB TTL deletes lazily, so readers also drop rows past it. */
  readonly expiresAt: number;
  readonly invocationId: string;
  /** The platform event (or REST request) that caused the invocation. */
  readonly eventId: string;
  readonly platform: LedgerPlatform;
  readonly tenantId: string;
  readonly chatId: string;
  readonly userId: string;
  /** ISO-8601 UTC time of the invocation. */
  readonly at: string;
  /** The model that answered, or the configured model when none did. */
  readonly model: string;
  /**
   * Set when a model answered: whether it was the primary or the fallback (`model` names it; a Lambda-hosted
   * fallback's time is a `lambda` entry with `fn: 'model'`). Absent on cache hits, commands, refusals and model
   * failures, and on rows written before fallback models existed.
   */
  readonly modelSource?: ModelSource;
  readonly latencyMs: number;
  /** Answered from the FAQ cache: no model call, so no SageMaker usage. */
  readonly cached: boolean;
  readonly usage: InvocationUsage;
  readonly tokens: { readonly prompt: number; readonly completion: number; readonly total: number };
}

export interface LedgerRowInput {
  readonly invocationId: string;
  readonly eventId: string;
  readonly platform: LedgerPlatform;
  readonly tenantId: string;
  readonly chatId: string;
  readonly userId: string;
  readonly at: Date;
  readonly model: string;
  readonly latencyMs: number;
  readonly cached: boolean;
  readonly usage: InvocationUsage;
  /** From `costOfInvocation(usage, prices)`. */
  readonly breakdown: CostBreakdown;
  /** How long finance keeps the row. */
  readonly retentionDays: number;
}

const SECONDS_PER_DAY = 86_400;

export function buildLedgerRow(input: LedgerRowInput): LedgerRow {
  const { at, retentionDays, breakdown, usage } = input;
  const problems: string[] = [];
  if (Number.isNaN(at.getTime())) problems.push('at is not a valid time');
  if (!Number.isInteger(retentionDays) || retentionDays < 1) problems.push('retentionDays must be a positive integer');
  if (!Number.isFinite(input.latencyMs) || input.latencyMs < 0) problems.push('latencyMs must be >= 0');
  for (const field of ['invocationId', 'eventId', 'tenantId', 'chatId', 'userId', 'model'] as const) {
    if (input[field].length === 0) problems.push(`${field} is empty`);
  }
  if (input.cached && usage.sagemaker !== null) problems.push('a cached answer cannot have SageMaker usage');
  if (problems.length > 0) throw new ValidationError(`Invalid ledger row: ${problems.join('; ')}`);

  const iso = at.toISOString();
  return {
    pk: `GROUP#${groupKey(input)}`,
    sk: `${iso}#${keyPart(input.invocationId)}`,
    day: iso.slice(0, 10),
    expiresAt: Math.floor(at.getTime() / 1000) + retentionDays * SECONDS_PER_DAY,
    invocationId: input.invocationId,
    eventId: input.eventId,
    platform: input.platform,
    tenantId: input.tenantId,
    chatId: input.chatId,
    userId: input.userId,
    at: iso,
    model: input.model,
    latencyMs: input.latencyMs,
    cached: input.cached,
    usage,
    tokens: {
      prompt: usage.tokens.prompt,
      completion: usage.tokens.completion,
      total: usage.tokens.prompt + usage.tokens.completion,
    },
    ...breakdown,
  };
}

/**
 * `row` marked with the model that answered it (`LedgerRow.modelSource`); unchanged when `source` is undefined.
 * @throws ValidationError for a cached row: no model answered it.
 */
export function withModelSource<T extends LedgerRow>(row: T, source: ModelSource | undefined): T {
  if (source === undefined) return row;
  if (row.cached) throw new ValidationError('Invalid ledger row: a cached answer has no answering model');
  return { ...row, modelSource: source };
}

export type AggregateBy = 'group' | 'user' | 'day' | 'platform';

export interface LedgerAggregate {
  /**
   * `platform#tenant#chat` (group), `platform#tenant#user` (user), `YYYY-MM-DD` (day) or the platform name; ids
   * escaped as in `groupKey` but never hashed (`displayKey`).
   */
  readonly key: string;
  readonly invocations: number;
  readonly cachedInvocations: number;
  /** Invocations the fallback model answered (`modelSource: 'fallback'`). */
  readonly fallbackInvocations: number;
  readonly tokens: { readonly prompt: number; readonly completion: number; readonly total: number };
  readonly components: ComponentAmounts;
  readonly componentsNanoUsd: ComponentAmounts;
  /** Exactly Σ components: summed in integer nano-dollars. */
  readonly totalUsd: number;
  readonly totalNanoUsd: number;
}

type AggregatableRow = Pick<
  LedgerRow,
  'platform' | 'tenantId' | 'chatId' | 'userId' | 'day' | 'cached' | 'modelSource' | 'tokens' | 'componentsNanoUsd'
>;

// Report lines name the real ids (escaped, never hashed like stored keys), so finance can read every group.
function keyOf(row: AggregatableRow, by: AggregateBy): string {
  switch (by) {
    case 'group':
      return displayKey([row.platform, row.tenantId, row.chatId]);
    case 'user':
      return displayKey([row.platform, row.tenantId, row.userId]);
    case 'day':
      return row.day;
    case 'platform':
      return row.platform;
  }
}

/** Sums ledger rows per group, user, day or platform for the finance report, sorted by key. */
export function aggregate(rows: readonly AggregatableRow[], by: AggregateBy): LedgerAggregate[] {
  const totals = new Map<
    string,
    {
      invocations: number;
      cached: number;
      fallback: number;
      prompt: number;
      completion: number;
      nano: Record<CostComponent, bigint>;
    }
  >();
  for (const row of rows) {
    const key = keyOf(row, by);
    let acc = totals.get(key);
    if (!acc) {
      const nano = Object.fromEntries(COST_COMPONENTS.map((c) => [c, 0n])) as Record<CostComponent, bigint>;
      acc = { invocations: 0, cached: 0, fallback: 0, prompt: 0, completion: 0, nano };
      totals.set(key, acc);
    }
    acc.invocations += 1;
    if (row.cached) acc.cached += 1;
    if (row.modelSource === 'fallback') acc.fallback += 1;
    acc.prompt += row.tokens.prompt;
    acc.completion += row.tokens.completion;
    for (const c of COST_COMPONENTS) acc.nano[c] += BigInt(row.componentsNanoUsd[c]);
  }

  return [...totals.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, acc]) => {
      const total = COST_COMPONENTS.reduce((t, c) => t + acc.nano[c], 0n);
      const amounts = (f: (n: bigint) => number) =>
        Object.fromEntries(COST_COMPONENTS.map((c) => [c, f(acc.nano[c])])) as Record<CostComponent, number>;
      return {
        key,
        invocations: acc.invocations,
        cachedInvocations: acc.cached,
        fallbackInvocations: acc.fallback,
        tokens: { prompt: acc.prompt, completion: acc.completion, total: acc.prompt + acc.completion },
        components: amounts(nanoToUsd),
        componentsNanoUsd: amounts(Number),
        totalUsd: nanoToUsd(total),
        totalNanoUsd: Number(total),
      };
    });
}
