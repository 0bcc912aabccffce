import type { PipelineConfig } from '#config/pipeline-config';
import { answerCacheKey, isCacheable } from '#core/answer-cache-key';
import { DEFAULT_MESSAGES, type PipelinePorts } from '#core/answer-pipeline';
import type { LedgerRow } from '#core/cost/ledger-row';
import { parsePriceOverrides, resolvePrices } from '#core/cost/prices';
import { buildPrompt } from '#core/prompt/build-prompt';
import { estimateTokens } from '#core/prompt/token-estimate';
import { compileLexicon } from '#core/safety/content-filter';
import { moderate } from '#core/safety/moderation';
import { createPiiMasker } from '#core/safety/pii';
import type { ModelClient } from '#model/model-client';
import type { AwsClients } from '#shared/aws-clients';
import { traced } from '#shared/tracer';
import type { Member } from '#stores/active-users';
import { AnswerCache } from '#stores/answer-cache';
import { countItems, type LosslessWriteOptions, type PutBatch, writeBatchLossless } from '#stores/batch-write';
import { ContextStore, type ConversationContext } from '#stores/context-store';
import type { CapacitySink } from '#stores/event-store';
import { formatUsage, queryMemberUsage } from '#stores/usage-query';

/**
 * The answering pipeline wired to the real stores, safety filters, prompt builder and model client, for every
 * caller: the worker (queued platform events) and `/v1/chat` (synchronous). Built once per cold start.
 */

/** Per-invocation DynamoDB capacity (ReturnConsumedCapacity), so the ledger prices exactly the work one call caused. */
export class CapacityMeter implements CapacitySink {
  read = 0;
  write = 0;
  add(capacity: { readonly read?: number; readonly write?: number }): void {
    this.read += capacity.read ?? 0;
    this.write += capacity.write ?? 0;
  }
}

export interface PipelineCompositionDeps {
  readonly config: PipelineConfig;
  readonly clients: AwsClients;
  readonly model: ModelClient;
  readonly now: () => number;
  /** Retry policy of ledger/audit writes (tests shorten it). */
  readonly recordWrites?: LosslessWriteOptions;
}

/** Ledger/audit items still unwritten after every retry; `unwritten` is what to keep and write later. */
export class RecordsNotWrittenError extends Error {
  constructor(
    readonly unwritten: PutBatch,
    cause?: unknown,
  ) {
    super(`${countItems(unwritten)} ledger/audit item(s) not written`, cause === undefined ? {} : { cause });
    this.name = 'RecordsNotWrittenError';
  }
}

export type PipelineComposition = ReturnType<typeof composePipeline>;

/** Sampling temperature of every pipeline model call; part of the FAQ cache key, like the system prompt. */
export const MODEL_TEMPERATURE = 0.3;

export function composePipeline(deps: PipelineCompositionDeps) {
  const { config, clients, now } = deps;
  const contexts = new ContextStore(clients.doc, {
    tableName: config.tables.conversations,
    tokenCount: estimateTokens,
    ttlSeconds: config.contextTtlSeconds,
  });
  const cache = new AnswerCache(clients.doc, {
    tableName: config.tables.answerCache,
    ttlSeconds: config.answerCacheTtlSeconds,
  });
  const lexicon = compileLexicon(config.lexicon);
  const maskPii = createPiiMasker();
  const prices = resolvePrices(
    config.region,
    config.priceOverrides === undefined ? {} : parsePriceOverrides(config.priceOverrides),
  );
  const verdict = async (text: string) => {
    const result = await moderate(text, { lexicon });
    return { decision: result.decision, text: result.text, maxLevel: result.maxLevel };
  };

  /**
   * The pipeline's ports for one invocation. `prefetched` lets a caller start the context read early (the worker
   * runs it alongside its claim); the save stays conditional on the version read, so that is safe. `member` (who
   * asked, in which group) enables `/cost`, answered from the ledger.
   */
  function ports(
    meter: CapacitySink,
    systemPrompt: string,
    options: {
      readonly prefetched?: { readonly key: string; readonly context: Promise<ConversationContext> };
      readonly member?: Member;
    } = {},
  ): PipelinePorts<ConversationContext> {
    const { prefetched, member } = options;
    return {
      loadContext: async (key) => {
        const loaded = await (prefetched?.key === key ? prefetched.context : contexts.load(key, now(), meter));
        return { turns: loaded.turns, handle: loaded };
      },
      clearContext: async (key) => {
        await contexts.clear(key, now(), meter);
      },
      cacheKey: (question, maxTokens) =>
        isCacheable(question, { hasContext: false })
          ? answerCacheKey({
              question,
              modelId: config.model.modelId,
              promptVersion: config.promptVersion,
              systemPrompt,
              maxTokens,
              temperature: MODEL_TEMPERATURE,
            })
          : undefined,
      cacheGet: async (key) => {
        const hit = await cache.get(key, now(), meter);
        return hit.hit ? hit.answer : undefined;
      },
      moderateInput: verdict,
      moderateOutput: verdict,
      maskPii: (text) => {
        const masked = maskPii(text);
        return { text: masked.text, found: masked.findings.reduce((n, f) => n + f.count, 0) };
      },
      buildMessages: ({ turns, question, extraContext, maxTokens }) => {
        const reply = Math.min(maxTokens ?? config.model.maxTokens, config.model.maxTokens);
        const built = buildPrompt({
          systemPrompt,
          turns,
          question,
          extraContext,
          contextWindow: config.model.contextWindow,
          maxTokens: reply,
        });
        return { messages: built.messages, maxTokens: reply };
      },
      invokeModel: async (messages, maxTokens, deadline) => {
        const result = await traced('model', { modelId: config.model.modelId }, () =>
          deps.model.invoke({ messages: [...messages], maxTokens, temperature: MODEL_TEMPERATURE }, { deadline }),
        );
        return {
          content: result.content,
          finishReason: result.finishReason,
          promptTokens: result.usage.promptTokens,
          completionTokens: result.usage.completionTokens,
          latencyMs: result.latencyMs,
          timeToFirstTokenMs: result.timeToFirstTokenMs,
          modelId: result.modelId,
        };
      },
      ...(member
        ? {
            usage: async () =>
              formatUsage(
                await queryMemberUsage(clients.doc, { tableName: config.tables.ledger }, member, now(), meter),
              ),
          }
        : {}),
      messages: DEFAULT_MESSAGES,
    };
  }

  async function writeOrThrow(batch: PutBatch, meter?: CapacitySink): Promise<void> {
    let unwritten: PutBatch;
    try {
      unwritten = await writeBatchLossless(clients.doc, batch, deps.recordWrites, meter);
    } catch (err) {
      // The call itself failed (after the SDK's retries): nothing of it is known to be written.
      throw new RecordsNotWrittenError(batch, err);
    }
    if (countItems(unwritten) > 0) throw new RecordsNotWrittenError(unwritten);
  }

  return {
    contexts,
    cache,
    prices,
    maskPii,
    ports,
    /** Caches a context-free answer under the key `runPipeline` chose. */
    async cachePut(key: string, answer: string, meter: CapacitySink): Promise<void> {
      await cache.put(
        key,
        { answer, modelId: config.model.modelId, promptVersion: config.promptVersion },
        now(),
        meter,
      );
    },
    /**
     * The ledger row and the audit record in one BatchWriteItem (one round trip), unprocessed items retried with
     * backoff. @throws RecordsNotWrittenError holding what is still unwritten after the last attempt.
     */
    async writeRecords(
      row: LedgerRow,
      audit: Record<string, unknown>,
      extra: Record<string, unknown>,
      meter?: CapacitySink,
    ): Promise<void> {
      await writeOrThrow({ [config.tables.ledger]: [{ ...row, ...extra }], [config.tables.audit]: [audit] }, meter);
    },
    /** Writes records an earlier attempt could not. @throws RecordsNotWrittenError */
    async flushRecords(batch: PutBatch, meter?: CapacitySink): Promise<void> {
      await writeOrThrow(batch, meter);
    },
  };
}
