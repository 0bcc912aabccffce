import type { SQSRecord } from 'aws-lambda';
import { maskModelOutputFor, systemPromptFor } from '#config/pipeline-config';
import { streamsTo } from '#config/streaming';
import type { WorkerConfig } from '#config/worker-config';
import { type PipelineOutcome, runPipeline } from '#core/answer-pipeline';
import type { InvocationUsage } from '#core/cost/cost-model';
import { type InvocationFacts, type ProcessResult, processEvent } from '#core/process-event';
import { type QueuedEvent, queuedEventSchema } from '#core/queue-message';
import type { ModelClient } from '#model/model-client';
import type {
  ChatPlatform,
  OpenReplyOptions,
  PlatformName,
  ReplySession,
  ReplyTarget,
  SendResult,
} from '#platforms/types';
import type { AwsClients } from '#shared/aws-clients';
import { METRIC, recordMetric, recordOutcome, recordReplyMetrics } from '#shared/metrics';
import { logger } from '#shared/powertools';
import { traced } from '#shared/tracer';
import { ActiveUsers, activeUserKey, type Member } from '#stores/active-users';
import { decodePutBatch, encodePutBatch } from '#stores/batch-write';
import { CapacityMeter } from '#stores/capacity';
import type { ConversationContext } from '#stores/context-store';
import { DeliveryStore } from '#stores/delivery-store';
import type { DeliveredReply } from '#stores/event-record';
import { EventStore } from '#stores/event-store';
import { RecordsNotWrittenError } from '#stores/records-store';
import { composePipeline } from './pipeline-composition';
import { refreshDirectory } from './profile-directory';
import { createInvocationRecorder } from './record-invocation';
import { turnFiles } from './turn-files';
import { prefetchTurn, type TurnPrefetch } from './turn-prefetch';
import type { VoiceEngines } from './voice-engines';
import { answerWithVoice, type SpokenAnswer, speakAnswer } from './voice-step';

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
  /** The voice engines of `config.voice` (`createVoiceEngines`); absent: voice messages get the "off" note. */
  readonly voice?: VoiceEngines;
}

const MODEL_BUDGET_MARGIN_MS = 5_000;

export function createWorkerRuntime(deps: WorkerRuntimeDeps) {
  const { config, clients } = deps;
  const now = deps.now ?? Date.now;
  const events = new EventStore(clients.doc, { tableName: config.tables.events });
  const pipeline = composePipeline({ config, clients, model: deps.model, now });
  const { contexts } = pipeline;
  const activeUsers = new ActiveUsers(clients.doc, { tableName: config.tables.events });
  const recordInvocation = createInvocationRecorder({
    config,
    prices: pipeline.prices,
    maskPii: pipeline.maskPii,
    records: pipeline.records,
    activeUsers,
  });
  const directoryDeps = {
    store: pipeline.profiles,
    config: config.profiles,
    maskPii: (text: string) => pipeline.maskPii(text),
    now,
  };
  const prefetchDeps = {
    db: clients.doc,
    contexts,
    cache: pipeline.cache,
    activeUsers,
    profiles: pipeline.profiles,
    faqCacheKey: pipeline.faqCacheKey,
  };

  /**
   * The ledger row and audit record of one answered event. Resolves to the encoded items still unwritten (kept with
   * the event by `processEvent` and written on its redelivery), or undefined once both are written.
   */
  async function recordAnswered(
    facts: InvocationFacts,
    meter: CapacityMeter,
    payloadBytes: number,
    activeMarker: TurnPrefetch['activeMarker'],
    voice: InvocationUsage['voice'],
  ): Promise<string | undefined> {
    // The marker read counts only for the day it was read: an event started across midnight UTC is marked again.
    const memberCountedToday =
      activeMarker.key === activeUserKey(memberOf(facts.event), facts.startedAt) &&
      (await activeMarker.present.catch(() => false));
    try {
      await recordInvocation({ kind: 'queued', ...facts, payloadBytes, ...(voice ? { voice } : {}) }, meter, {
        memberCountedToday,
      });
      return undefined;
    } catch (err) {
      if (!(err instanceof RecordsNotWrittenError)) throw err;
      logger.warn('ledger/audit not written yet; kept with the event for its redelivery', {
        eventId: facts.event.message.eventId,
        error: err,
      });
      return encodePutBatch(err.unwritten);
    }
  }

  const deliveries = new DeliveryStore(clients.doc, events, contexts, (err, delivery) =>
    logger.error('turn not saved to context', {
      eventId: delivery.turn?.exchange.eventId,
      eventKey: delivery.eventKey,
      error: err as Error,
    }),
  );

  /** The replied status with the turn the pipeline produced (see `DeliveryStore.record`). */
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
    await deliveries.record(
      {
        eventKey: pk,
        at,
        reply,
        conversationKey: event.conversationKey,
        ...(turn && loaded
          ? {
              turn: {
                loaded,
                exchange: { user: turn.user, assistant: turn.assistant, eventId: event.message.eventId },
              },
            }
          : {}),
      },
      now(),
      meter,
    );
  }

  /**
   * The platform's reply session, its opening and settling calls traced and counted (delivered or failed), with the
   * member's wait for the first visible words (from the platform's event time) and the platform calls it took.
   */
  async function openReply(
    platform: ChatPlatform,
    event: QueuedEvent,
    target: ReplyTarget,
    options?: OpenReplyOptions,
  ): Promise<ReplySession> {
    let firstVisibleAt: number | undefined;
    const withMetrics: OpenReplyOptions = {
      ...options,
      onFirstVisible: (at) => {
        firstVisibleAt = at;
        options?.onFirstVisible?.(at);
      },
    };
    let session: ReplySession;
    try {
      session = await traced('platform open reply', { platform: platform.name, stream: options?.stream === true }, () =>
        platform.openReply(target, withMetrics),
      );
    } catch (err) {
      recordMetric(METRIC.deliveryFailures);
      throw err;
    }
    const delivered = (sent: SendResult): void => {
      recordMetric(METRIC.repliesDelivered);
      if (sent.imageFailures) {
        // The text is out; an image that could not follow it costs the member the chart, not the answer.
        logger.warn('reply images not posted', {
          eventId: event.message.eventId,
          platform: platform.name,
          failures: sent.imageFailures,
        });
        recordMetric(METRIC.replyImageFailures, sent.imageFailures.length);
      }
      // A one-shot session shows its text when it is sent: that is its first visible moment.
      const visibleAt = firstVisibleAt ?? now();
      recordReplyMetrics(platform.name, {
        timeToFirstVisibleMs: Math.max(0, visibleAt - event.message.timestamp),
        platformCalls: session.platformCalls,
      });
    };
    const settle = async (call: () => Promise<SendResult>): Promise<SendResult> => {
      let sent: SendResult;
      try {
        sent = await traced('platform send', { platform: platform.name }, call);
      } catch (err) {
        recordMetric(METRIC.deliveryFailures);
        throw err;
      }
      // The reply is out: a figure that cannot be recorded must not turn it into a failed delivery.
      try {
        delivered(sent);
      } catch (err) {
        logger.warn('reply metrics not recorded', { eventId: event.message.eventId, error: err as Error });
      }
      return sent;
    };
    return {
      get platformCalls() {
        return session.platformCalls;
      },
      update: (fullTextSoFar) => session.update(fullTextSoFar),
      abandon: () => session.abandon(),
      finish: (fullText, finishOptions) => settle(() => session.finish(fullText, finishOptions)),
      fail: (note) => settle(() => session.fail(note)),
    };
  }

  /** Processes one SQS record; throws to have SQS redeliver it (and dead-letter it after N receives). */
  return async function processRecord(record: SQSRecord): Promise<ProcessResult> {
    const sentAt = Number(record.attributes.SentTimestamp);
    if (Number.isFinite(sentAt) && sentAt > 0) recordMetric(METRIC.queueWaitMs, Math.max(0, now() - sentAt));
    const event = queuedEventSchema.parse(JSON.parse(record.body));
    const meter = new CapacityMeter();
    const platform = deps.platforms[event.message.platform];
    if (!platform) throw new Error(`Platform ${event.message.platform} is not enabled in the worker`);
    // The reads do not depend on the claim, so they run alongside it: one round trip for both (`prefetchTurn`).
    const member = memberOf(event);
    const systemPrompt = systemPromptFor(config, event.message.platform, event.message.chatId);
    const prefetched = prefetchTurn(
      prefetchDeps,
      {
        conversationKey: event.conversationKey,
        member,
        question: {
          text: event.text,
          systemPrompt,
          maskModelInput: config.maskModelInput,
          profileBlock: pipeline.groupDefaultBlock(member),
        },
        now: now(),
      },
      meter,
    );
    const pipelinePorts = pipeline.ports(meter, { prefetched, member });
    // The member's directory entry, when enabled and stale: looked up beside the answer, for the next ones.
    const directory = prefetched.profile
      ? refreshDirectory(directoryDeps, platform, member, prefetched.profile)
      : Promise.resolve('disabled');
    const remaining = deps.remainingMs ?? (() => 60_000);
    // Speech recognised for this attempt's answer, for its ledger row, and the answer spoken (synthesised beside the
    // text's send, posted after it).
    let voiceUsage: InvocationUsage['voice'];
    let spoken: Promise<SpokenAnswer | undefined> = Promise.resolve(undefined);
    const result = await processEvent(event, Number(record.attributes.ApproximateReceiveCount ?? 1), {
      events: {
        claim: (pk, at, lease, _capacity, options) => events.claim(pk, at, lease, meter, options),
        markSending: (pk, at, attempts) => events.markSending(pk, at, attempts, meter),
        markFailed: (pk, at, attempts, _capacity, options) => events.markFailed(pk, at, attempts, meter, options),
        markReplyOpened: (pk, at, attempts, opened) => events.markReplyOpened(pk, at, attempts, opened, meter),
        clearPendingRecords: (pk, at) => events.clearPendingRecords(pk, at, meter),
      },
      runPipeline: async (input) => {
        const maskModelOutput = maskModelOutputFor(config, event.message.platform, event.message.chatId);
        const files = turnFiles(platform, event.message.attachments, { deadline: input.deadline, now });
        const { outcome, answer, asr } = await answerWithVoice(
          event,
          { ...input, maskModelOutput, ...(files ? { files } : {}) },
          (turn) => runPipeline(turn, pipelinePorts),
          { platform, asr: deps.voice?.asr, config: config.voice, maskPii: pipeline.maskPii, now },
        );
        voiceUsage = asr ? { asr } : undefined;
        spoken = speakAnswer(answer, outcome.source, {
          tts: deps.voice?.tts,
          config: config.voice,
          platform,
          chatId: event.message.chatId,
          onError: (error) => logger.warn('answer not spoken', { eventId: event.message.eventId, error }),
        });
        recordOutcome(outcome);
        if (outcome.source === 'fallback') recordMetric(METRIC.fallbackUsed);
        return outcome;
      },
      openReply: (target, options) => openReply(platform, event, target, options),
      streamFor: (e) =>
        platform.streaming === true && streamsTo(config.streaming, e.message.platform, e.message.chatId),
      surfaceSweepAt: (openedAt) => openedAt + config.streamSweepAfterMs,
      idempotentSend:
        typeof platform.idempotentSend === 'function'
          ? platform.idempotentSend(event.message.replyHandle)
          : platform.idempotentSend === true,
      recordDelivery: (pk, at, reply, outcome) => recordDelivery(event, pk, at, reply, outcome, meter),
      cachePut: async (entry) => {
        await pipeline
          .cachePut(entry, meter)
          .catch((err: unknown) => logger.warn('answer not cached', { error: err as Error }));
      },
      recordInvocation: async (facts) => {
        const tts = (await spoken)?.usage;
        const voice = tts ? { ...voiceUsage, tts } : voiceUsage;
        return recordAnswered(facts, meter, Buffer.byteLength(record.body), prefetched.activeMarker, voice).catch(
          (err: unknown) => {
            logger.error('ledger/audit not built', { eventId: event.message.eventId, error: err as Error });
            return undefined;
          },
        );
      },
      flushRecords: (pending) => pipeline.records.flush(decodePutBatch(pending), meter),
      now,
      leaseMs: config.claimLeaseMs,
      deadline: () => now() + Math.max(1_000, remaining() - MODEL_BUDGET_MARGIN_MS),
      // The same question settings the prefetch computed its FAQ cache key with.
      systemPromptFor: () => systemPrompt,
      maskModelInputFor: () => config.maskModelInput,
      checkpoint: deps.checkpoint,
    });
    await directory;
    if (result.kind === 'replied') await postSpeech(platform, event, await spoken);
    if (result.kind === 'delivery_unknown') {
      logger.error('an earlier attempt died during its platform send; acknowledged without a second reply', {
        eventId: event.message.eventId,
        platform: event.message.platform,
      });
    }
    return result;
  };
}

/**
 * The spoken answer as its own audio message after the text, which is out and recorded: at most once (a redelivery
 * finds the event replied), and a failure is logged, never thrown.
 */
async function postSpeech(platform: ChatPlatform, event: QueuedEvent, spoken: SpokenAnswer | undefined): Promise<void> {
  const sendSpeech = platform.sendSpeech?.bind(platform);
  if (spoken === undefined || sendSpeech === undefined) return;
  const m = event.message;
  try {
    await traced('platform send speech', { platform: platform.name }, () =>
      sendSpeech(
        { handle: m.replyHandle, format: 'markdown', idempotencyKey: m.eventId },
        { bytes: spoken.audio.bytes, durationSeconds: spoken.audio.durationSeconds },
      ),
    );
  } catch (err) {
    logger.warn('spoken answer not posted', { eventId: m.eventId, platform: platform.name, error: err as Error });
  }
}

function memberOf(event: QueuedEvent): Member {
  const m = event.message;
  return { platform: m.platform, tenantId: m.tenantId, chatId: m.chatId, userId: m.senderId };
}
