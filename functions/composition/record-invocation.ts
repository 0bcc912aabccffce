import { randomUUID } from 'node:crypto';
import type { PipelineConfig } from '#config/pipeline-config';
import { lambdaUsageOf } from '#core/cost/model-billing';
import type { ResolvedPrices } from '#core/cost/prices';
import { buildInvocationRecords } from '#core/records/invocation-records';
import { describeInvocation, type InvocationToRecord } from '#core/records/invocation-work';
import { METRIC, recordMetric } from '#shared/metrics';
import { logger } from '#shared/powertools';
import type { ActiveUsers, Member } from '#stores/active-users';
import type { CapacitySink } from '#stores/capacity';
import type { RecordsStore } from '#stores/records-store';

/**
 * `recordInvocation` for every caller (the worker, `/v1/chat`): builds the ledger row and the audit record
 * (`buildInvocationRecords`) and writes them in one lossless batch. What the caller does when they cannot be
 * written is its own: the worker keeps them with the event for the redelivery, `/v1/chat` logs them.
 *
 * The answering model is priced from its own billing: SageMaker time by `buildInvocationRecords`, a Lambda-hosted
 * model's (the fallback's) GB-seconds here, as one more Lambda invocation of the call (`fn: 'model'`). The ledger
 * row says whether the primary or the fallback answered (`modelSource`), as the pipeline decided it.
 *
 * Logs `invocation recorded` (eventId, platform, source, model, totalUsd, latencyMs, queueWaitMs) once both are written;
 * with `activeUsers`, counts the member once per group and UTC day (metric ActiveUsers) alongside the write, unless
 * the caller already knows the member is counted that day (`RecordOptions.memberCountedToday`).
 */

export interface InvocationRecorderDeps {
  readonly config: Pick<PipelineConfig, 'model' | 'memoryMb' | 'ledgerRetentionDays' | 'auditRetentionDays'>;
  readonly prices: ResolvedPrices;
  /** The pipeline's PII masker (`createPiiMasker`): the audit keeps answers masked. */
  readonly maskPii: (text: string) => { readonly text: string };
  readonly records: Pick<RecordsStore, 'write'>;
  /** Counts daily active members (the worker); the put is billed as one more write unit. */
  readonly activeUsers?: Pick<ActiveUsers, 'markActive'>;
  /** Ledger ids of queued events. @default randomUUID */
  readonly newInvocationId?: () => string;
}

/** The invocation's DynamoDB capacity so far; the records' own writes are added to it before pricing. */
export interface CapacityReading extends CapacitySink {
  readonly read: number;
  readonly write: number;
}

// The ledger row and the audit record: one write unit each (both well under 1 KB of capacity rounding).
const RECORD_WRITE_UNITS = 2;
// The active-user put: one unit whether or not its condition holds.
const ACTIVE_USER_WRITE_UNITS = 1;

export interface RecordOptions {
  /**
   * The member is already counted active for the invocation's day (the worker read the marker with its context):
   * no put is made, and none is priced.
   */
  readonly memberCountedToday?: boolean;
}

export type RecordInvocation = (
  invocation: InvocationToRecord,
  meter: CapacityReading,
  options?: RecordOptions,
) => Promise<void>;

export function createInvocationRecorder(deps: InvocationRecorderDeps): RecordInvocation {
  const { config, activeUsers } = deps;
  const newInvocationId = deps.newInvocationId ?? randomUUID;

  /** Never fails the invocation: a member not counted is a metric short by one. */
  async function countActive(member: Member, at: number): Promise<void> {
    if (!activeUsers) return;
    try {
      if (await activeUsers.markActive(member, at)) recordMetric(METRIC.activeUsers);
    } catch (err) {
      logger.warn('active user not counted', { error: err as Error });
    }
  }

  /**
   * Builds and writes the invocation's ledger row and audit record.
   * @throws RecordsNotWrittenError holding the items still unwritten; any other error (an invalid measurement, a missing price) means nothing was written.
   */
  return async function recordInvocation(invocation, meter, options = {}) {
    const marks = activeUsers !== undefined && options.memberCountedToday !== true;
    const described = describeInvocation(invocation, {
      memoryMb: config.memoryMb,
      capacity: { read: meter.read, write: meter.write + RECORD_WRITE_UNITS + (marks ? ACTIVE_USER_WRITE_UNITS : 0) },
      newInvocationId,
    });
    const { party, timings } = described;
    const answered = invocation.outcome.model;
    const work = { ...described.work, lambda: [...described.work.lambda, ...lambdaUsageOf(answered)] };
    const { platform, tenantId, chatId, userId } = party;
    const active = marks ? countActive({ platform, tenantId, chatId, userId }, timings.startedAt) : Promise.resolve();
    let records: ReturnType<typeof buildInvocationRecords>;
    try {
      records = buildInvocationRecords({
        party,
        outcome: invocation.outcome,
        timings,
        work,
        model: { modelId: config.model.modelId },
        prices: deps.prices,
        retention: { ledger: config.ledgerRetentionDays, audit: config.auditRetentionDays },
        maskPii: (text) => deps.maskPii(text).text,
      });
    } catch (err) {
      await active;
      throw err;
    }
    // Settled side by side: the active-user put is never left running when the write fails.
    const [written] = await Promise.allSettled([deps.records.write(records, meter), active]);
    if (written.status === 'rejected') throw written.reason;
    const { audit } = records;
    logger.info('invocation recorded', {
      eventId: audit.eventId,
      platform: audit.platform,
      source: audit.source,
      model: audit.model,
      totalUsd: audit.totalUsd,
      latencyMs: audit.latencyMs,
      queueWaitMs: audit.queueWaitMs,
    });
  };
}
