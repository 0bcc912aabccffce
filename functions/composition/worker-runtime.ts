import { randomUUID } from 'node:crypto';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { maskModelOutputFor } from '#config/pipeline-config';
import type { WorkerConfig } from '#config/worker-config';
import { type PipelineOutcome, runPipeline } from '#core/answer-pipeline';
import { groupKey } from '#core/conversation-key';
import { costOfInvocation, parseUsage } from '#core/cost/cost-model';
import { buildLedgerRow } from '#core/cost/ledger-row';
import { keyPart } from '#core/key-part';
import { type InvocationFacts, type ProcessResult, processEvent } from '#core/process-event';
import { type QueuedEvent, queuedEventSchema } from '#core/queue-message';
import type { ModelClient } from '#model/model-client';
import type { ChatPlatform, OutgoingReply, PlatformName, SendResult } from '#platforms/types';
import type { AwsClients } from '#shared/aws-clients';
import { METRIC, recordMetric, recordOutcome } from '#shared/metrics';
import { logger } from '#shared/powertools';
import { traced } from '#shared/tracer';
import { ActiveUsers, type Member } from '#stores/active-users';
import { decodePutBatch, encodePutBatch } from '#stores/batch-write';
import { type ConversationContext, isTransactConflict } from '#stores/context-store';
import { type DeliveredReply, EventStore } from '#stores/event-store';
import { CapacityMeter, composePipeline, RecordsNotWrittenError } from './pipeline-composition';

/**
 * The worker's composition: real stores, model client and adapters wired into `processEvent`. Built once per cold
 * start; each record gets its own capacity meter so the ledger prices exactly the DynamoDB work it caused.
 *
 * Metrics per record (flushed by the handler's `logMetrics`): QueueWaitMs; the answer's model, cache, filter and
 * fallback metrics (`recordOutcome`); RepliesDelivered or DeliveryFailures; ActiveUsers for a member's first message
 * of the day in a group. Errors are counted by the handler, per failed record.
 */
export interface WorkerRuntimeDeps {
  readonly config: WorkerConfig;
  readonly clients: AwsClients;
  readonly platforms: Partial<Record<PlatformName, ChatPlatform>>;
  readonly model: ModelClient;
  readonly now?: () => number;
  /** Time left in this Lambda invocation, ms; the model must finish well before. */
  readonly remainingMs?: () => number;
  readonly checkpoint?: Parameters<typeof processEvent>[2]['checkpoint'];
}

// Estimated CloudWatch Logs bytes per invocation across webhook and worker (a handful of structured lines).
const LOG_BYTES_PER_INVOCATION = 2_000;
// The webhook's DynamoDB writes per accepted event (reserve + mark enqueued), measured there but not carried over.
const WEBHOOK_WRITE_UNITS = 2;
// The ledger row, the audit record and the active-user put (one unit whether or not its condition holds).
const RECORD_WRITE_UNITS = 3;
const WEBHOOK_MEMORY_MB = 256;
const MODEL_BUDGET_MARGIN_MS = 5_000;

export function createWorkerRuntime(deps: WorkerRuntimeDeps) {
  const { config, clients } = deps;
  const now = deps.now ?? Date.now;
  const events = new EventStore(clients.doc, { tableName: config.tables.events });
  const pipeline = composePipeline({ config, clients, model: deps.model, now });
  const { contexts, prices, maskPii } = pipeline;
  const activeUsers = new ActiveUsers(clients.doc, { tableName: config.tables.events });

  /** Counts the member once per group and UTC day of the worker's clock; never fails the record. */
  async function countActive(member: Member, at: number): Promise<void> {
    try {
      if (await activeUsers.markActive(member, at)) recordMetric(METRIC.activeUsers);
    } catch (err) {
      logger.warn('active user not counted', { error: err as Error });
    }
  }

  /** Resolves to the encoded items still unwritten (kept with the event by `processEvent`), or undefined. */
  async function recordInvocation(
    facts: InvocationFacts,
    meter: CapacityMeter,
    payloadBytes: number,
  ): Promise<string | undefined> {
    const { event, outcome } = facts;
    const m = event.message;
    const active = countActive(memberOf(event), facts.startedAt);
    const model = outcome.model;
    const usage = parseUsage({
      apiGatewayRequests: 1,
      lambda: [
        {
          fn: 'webhook',
          memoryMb: WEBHOOK_MEMORY_MB,
          billedMs: Math.max(1, Math.ceil(event.ingressMs ?? 5)),
          arch: 'arm64',
        },
        {
          fn: 'worker',
          memoryMb: config.memoryMb,
          billedMs: Math.max(1, Math.ceil(facts.finishedAt - facts.startedAt)),
          arch: 'arm64',
        },
      ],
      sqsPayloadBytes: payloadBytes,
      sqsRequests: { send: 1, receive: facts.receiveCount, delete: 1 },
      dynamodb: {
        readRequestUnits: meter.read,
        writeRequestUnits: meter.write + WEBHOOK_WRITE_UNITS + RECORD_WRITE_UNITS,
      },
      logBytes: LOG_BYTES_PER_INVOCATION,
      sagemaker: model ? { instanceType: config.model.instanceType, busyMs: model.latencyMs } : null,
      tokens: { prompt: model?.promptTokens ?? 0, completion: model?.completionTokens ?? 0 },
    });
    const at = new Date(facts.finishedAt);
    const row = buildLedgerRow({
      invocationId: randomUUID(),
      eventId: m.eventId,
      platform: m.platform,
      tenantId: m.tenantId,
      chatId: m.chatId,
      userId: m.senderId,
      at,
      model: model?.modelId ?? config.model.modelId,
      latencyMs: facts.finishedAt - facts.startedAt,
      cached: outcome.source === 'cache',
      usage,
      breakdown: costOfInvocation(usage, prices),
      retentionDays: config.ledgerRetentionDays,
    });
    const audit = {
      pk: `GROUP#${groupKey(m)}`,
      sk: `${at.toISOString()}#${keyPart(m.eventId)}`, // hashed when long: a sort key holds at most 1,024 bytes
      expiresAt: Math.floor(facts.finishedAt / 1000) + config.auditRetentionDays * 86_400,
      at: at.toISOString(),
      platform: m.platform,
      chatId: m.chatId,
      userId: m.senderId,
      eventId: m.eventId,
      question: outcome.storedQuestion,
      answer: maskPii(outcome.reply).text,
      source: outcome.source,
      inputFilter: outcome.inputFilter,
      outputFilter: outcome.outputFilter,
      piiFound: outcome.piiFound,
      model: model?.modelId ?? null,
      modelLatencyMs: model?.latencyMs ?? null,
      latencyMs: facts.finishedAt - facts.startedAt,
      queueWaitMs: facts.startedAt - event.receivedAt,
      totalUsd: row.totalUsd,
    };
    const [unwritten] = await Promise.all([
      pipeline.writeRecords(row, audit, { source: outcome.source, filterDecision: outcome.outputFilter }, meter).then(
        () => undefined,
        (err: unknown) => {
          if (!(err instanceof RecordsNotWrittenError)) throw err;
          logger.warn('ledger/audit not written yet; kept with the event for its redelivery', {
            eventId: m.eventId,
            error: err,
          });
          return encodePutBatch(err.unwritten);
        },
      ),
      active,
    ]);
    if (unwritten !== undefined) return unwritten;
    logger.info('invocation recorded', {
      eventId: m.eventId,
      platform: m.platform,
      source: outcome.source,
      totalUsd: row.totalUsd,
      latencyMs: audit.latencyMs,
      queueWaitMs: audit.queueWaitMs,
    });
    return undefined;
  }

  // Learnt from the first attempt: DynamoDB runs TransactWriteItems, dynalite (the sandbox) answers
  // UnknownOperationException, and then every later delivery goes straight to the two separate writes.
  let transactions = true;

  /**
   * The replied status and the turn in one TransactWriteItems (one round trip instead of two). When another writer
   * changed the conversation since it was loaded, or the store has no transactions, the status is written alone
   * and `appendTurn` re-loads and appends (idempotent by eventId), so neither a reply nor a turn is lost.
   */
  async function recordDelivery(
    event: QueuedEvent,
    pk: string,
    at: number,
    reply: DeliveredReply,
    outcome: PipelineOutcome,
    meter: CapacityMeter,
  ): Promise<void> {
    const turn = outcome.saveTurn;
    const loaded = turn?.context.handle as ConversationContext | undefined;
    const exchange = turn && { user: turn.user, assistant: turn.assistant, eventId: event.message.eventId };
    const plan = exchange && loaded ? contexts.buildAppend(event.conversationKey, loaded, exchange, now()) : undefined;
    if (transactions && plan?.kind === 'write') {
      try {
        const out = await clients.doc.send(
          new TransactWriteCommand({
            TransactItems: [plan.transactItem, events.buildReplied(pk, at, reply)],
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        meter.add({ write: (out.ConsumedCapacity ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0) });
        return;
      } catch (err) {
        if ((err as Error).name === 'UnknownOperationException') transactions = false;
        else if (!isTransactConflict(err, 0)) throw err;
      }
    }
    const saveTurn = async (): Promise<void> => {
      if (!exchange || !loaded || plan?.kind === 'already_saved') return;
      await contexts.appendTurn(event.conversationKey, loaded, exchange, now(), meter).catch((err: unknown) => {
        logger.error('turn not saved to context', { eventId: event.message.eventId, error: err as Error });
      });
    };
    // Independent items: written side by side; only the replied status may fail the record.
    await Promise.all([events.markReplied(pk, at, reply, meter), saveTurn()]);
  }

  async function send(platform: ChatPlatform, name: PlatformName, reply: OutgoingReply): Promise<SendResult> {
    try {
      const sent = await traced('platform send', { platform: name }, () => platform.send(reply));
      recordMetric(METRIC.repliesDelivered);
      return sent;
    } catch (err) {
      recordMetric(METRIC.deliveryFailures);
      throw err;
    }
  }

  /** Processes one SQS record; throws to have SQS redeliver it (and dead-letter it after N receives). */
  return async function processRecord(record: SQSRecord): Promise<ProcessResult> {
    const sentAt = Number(record.attributes.SentTimestamp);
    if (Number.isFinite(sentAt) && sentAt > 0) recordMetric(METRIC.queueWaitMs, Math.max(0, now() - sentAt));
    const event = queuedEventSchema.parse(JSON.parse(record.body));
    const meter = new CapacityMeter();
    const platform = deps.platforms[event.message.platform];
    if (!platform) throw new Error(`Platform ${event.message.platform} is not enabled in the worker`);
    const systemPrompt = config.systemPrompt;
    // The context read does not depend on the claim, so it runs alongside it (one round trip less on the critical
    // path). Reading before claiming is safe: the save is conditional on the version read, whatever came between.
    const context = contexts.load(event.conversationKey, now(), meter);
    context.catch(() => undefined); // awaited by the pipeline; unobserved only when the claim says not to run it
    const pipelinePorts = pipeline.ports(meter, systemPrompt, {
      prefetched: { key: event.conversationKey, context },
      member: memberOf(event),
    });
    const remaining = deps.remainingMs ?? (() => 60_000);
    const result = await processEvent(event, Number(record.attributes.ApproximateReceiveCount ?? 1), {
      events: {
        claim: (pk, at, lease, _capacity, options) => events.claim(pk, at, lease, meter, options),
        markSending: (pk, at, attempts) => events.markSending(pk, at, attempts, meter),
        markFailed: (pk, at, attempts, _capacity, options) => events.markFailed(pk, at, attempts, meter, options),
        clearPendingRecords: (pk, at) => events.clearPendingRecords(pk, at, meter),
      },
      runPipeline: async (input) => {
        const maskModelOutput = maskModelOutputFor(config, event.message.platform, event.message.chatId);
        const outcome = await runPipeline({ ...input, maskModelOutput }, pipelinePorts);
        recordOutcome(outcome);
        if (outcome.source === 'fallback') recordMetric(METRIC.fallbackUsed);
        return outcome;
      },
      send: (reply) => send(platform, event.message.platform, reply),
      idempotentSend: platform.idempotentSend === true,
      recordDelivery: (pk, at, reply, outcome) => recordDelivery(event, pk, at, reply, outcome, meter),
      cachePut: async (key, answer) => {
        await pipeline
          .cachePut(key, answer, meter)
          .catch((err: unknown) => logger.warn('answer not cached', { error: err as Error }));
      },
      recordInvocation: (facts) =>
        recordInvocation(facts, meter, Buffer.byteLength(record.body)).catch((err: unknown) => {
          logger.error('ledger/audit not built', { eventId: event.message.eventId, error: err as Error });
          return undefined;
        }),
      flushRecords: (pending) => pipeline.flushRecords(decodePutBatch(pending), meter),
      now,
      leaseMs: config.claimLeaseMs,
      deadline: () => now() + Math.max(1_000, remaining() - MODEL_BUDGET_MARGIN_MS),
      maskModelInputFor: () => config.maskModelInput,
      checkpoint: deps.checkpoint,
    });
    if (result.kind === 'delivery_unknown') {
      logger.error('an earlier attempt died during its platform send; acknowledged without a second reply', {
        eventId: event.message.eventId,
        platform: event.message.platform,
      });
    }
    return result;
  };
}

function memberOf(event: QueuedEvent): Member {
  const m = event.message;
  return { platform: m.platform, tenantId: m.tenantId, chatId: m.chatId, userId: m.senderId };
}
