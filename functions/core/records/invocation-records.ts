import type { FilterDecision, PipelineOutcome } from '#core/answer-pipeline';
import { groupKey } from '#core/conversation-key';
import { costOfInvocation, type InvocationUsage, parseUsage } from '#core/cost/cost-model';
import { buildLedgerRow, type LedgerRow, withModelSource } from '#core/cost/ledger-row';
import { sagemakerUsageOf } from '#core/cost/model-billing';
import type { ResolvedPrices } from '#core/cost/prices';
import { keyPart } from '#core/key-part';
import type { LedgerPlatform } from '#platforms/types';

/**
 * The two records of one invocation (a queued platform event answered by the worker, or a `/v1/chat` call), built
 * by one function for both callers so their shapes cannot drift: the cost ledger row and the audit record.
 * Pure: prices, masking and ids come in; nothing is written here (see `#stores/records-store`).
 */

/** What the pipeline answered and how, as the ledger and the audit keep it. */
export type AnswerSource = PipelineOutcome['source'];

/** The ledger table's item: the `LedgerRow` plus how the answer came about. */
export interface LedgerItem extends LedgerRow {
  /** `/v1/chat` only: the JWT `sub` that made the call (`InvocationParty.principal`). */
  readonly principal?: string;
  readonly source: AnswerSource;
  /** The output filter's decision on the answer. */
  readonly filterDecision: FilterDecision;
}

/**
 * One item of the audit table, the same shape for every caller. Keyed by group and time: pk `GROUP#<groupKey>`
 * (the ledger row's pk), sk `<ISO time>#<keyPart(eventId)>` (hashed when long: a sort key holds at most 1,024 bytes).
 * Questions and answers are stored PII-masked whatever the chat sees.
 */
export interface AuditRecord {
  readonly pk: string;
  readonly sk: string;
  /** Epoch seconds: `at` + the audit retention (DynamoDB TTL). */
  readonly expiresAt: number;
  /** ISO-8601 UTC time the invocation finished. */
  readonly at: string;
  readonly platform: LedgerPlatform;
  readonly tenantId: string;
  readonly chatId: string;
  readonly userId: string;
  /** `/v1/chat` only: the JWT `sub` that made the call (`InvocationParty.principal`). */
  readonly principal?: string;
  /** The platform event id, or the REST request id. */
  readonly eventId: string;
  /** The question as stored in the context (PII-masked). */
  readonly question: string;
  /** The reply, PII-masked. */
  readonly answer: string;
  readonly source: AnswerSource;
  readonly inputFilter: FilterDecision;
  readonly outputFilter: FilterDecision;
  /** PII found in the question (and the REST `context`). */
  readonly piiFound: number;
  /** PII found in the answer; 0 when there was no answer to check. */
  readonly outputPiiFound: number;
  /** The answering model, or null when no model answered. */
  readonly model: string | null;
  readonly modelLatencyMs: number | null;
  /** From the start of the work to the records (worker: claim → records; REST: request → records). */
  readonly latencyMs: number;
  /** Worker only: from the webhook accepting the event to the worker starting on it. */
  readonly queueWaitMs?: number;
  /** The invocation's marginal cost, as in its ledger row. */
  readonly totalUsd: number;
  /** The model failure's code (`model_timeout`, …) when the model was asked and failed. */
  readonly modelError?: string;
  /** The skill that answered (a built-in command or a third-party skill), when one did. */
  readonly skill?: string;
  /**
   * What a grounded answer cited, in its numbering: which skill supplied each source, its title, section and link.
   * The passages' text is not kept (it may be long, and the skill's owner holds it).
   */
  readonly sources?: readonly AuditSource[];
  /**
   * What of the member's profile shaped the answer (docs/PROFILES.md): fields, bounded values and sources, e.g.
   * `language=ja(member) audience=manager(directory)`; never the free text of a role or department.
   */
  readonly profile?: string;
}

export interface AuditSource {
  readonly skill: string;
  readonly title: string;
  readonly section?: string;
  readonly url?: string;
}

/** Who caused the invocation, and its ids. */
export interface InvocationParty {
  readonly platform: LedgerPlatform;
  readonly tenantId: string;
  readonly chatId: string;
  /** The member the invocation answered. */
  readonly userId: string;
  /**
   * `/v1/chat` only: the authenticated principal (JWT `sub`) that made the call — `userId` for a member's own token,
   * an integration's subject when a `chat:act_as` token answered for `userId`.
   */
  readonly principal?: string;
  /** The platform event id, or the REST request id. */
  readonly eventId: string;
  /** Unique per invocation: the ledger row's sort key. */
  readonly invocationId: string;
}

/** Epoch ms. */
export interface InvocationTimings {
  readonly startedAt: number;
  readonly finishedAt: number;
  /** When the event was queued (worker only); gives `queueWaitMs`. */
  readonly queuedAt?: number;
}

/** The billable work of the call except the model's, which the builder derives from the answer. */
export type BilledWork = Omit<InvocationUsage, 'sagemaker' | 'tokens'>;

/** What the records keep of the pipeline's outcome. */
export type RecordedOutcome = Pick<
  PipelineOutcome,
  | 'reply'
  | 'source'
  | 'storedQuestion'
  | 'inputFilter'
  | 'outputFilter'
  | 'piiFound'
  | 'outputPiiFound'
  | 'model'
  | 'modelSource'
  | 'modelError'
  | 'skill'
  | 'sources'
  | 'profile'
>;

export interface RetentionDays {
  readonly ledger: number;
  readonly audit: number;
}

export interface InvocationRecordsInput {
  readonly party: InvocationParty;
  readonly outcome: RecordedOutcome;
  readonly timings: InvocationTimings;
  readonly work: BilledWork;
  /** The configured model, named in the ledger when none answered. SageMaker time is priced from the answer's billing. */
  readonly model: { readonly modelId: string };
  readonly prices: ResolvedPrices;
  readonly retention: RetentionDays;
  /** Masks PII in the answer for the audit (the chat may have seen it unmasked). */
  readonly maskPii: (text: string) => string;
}

export interface InvocationRecords {
  readonly ledger: LedgerItem;
  readonly audit: AuditRecord;
}

const SECONDS_PER_DAY = 86_400;

/** @throws ValidationError when the usage or the ledger row is invalid (a bad measurement never costs $0). */
export function buildInvocationRecords(input: InvocationRecordsInput): InvocationRecords {
  const { party, outcome, timings } = input;
  const answered = outcome.model;
  const usage = parseUsage({
    ...input.work,
    sagemaker: sagemakerUsageOf(answered),
    tokens: { prompt: answered?.promptTokens ?? 0, completion: answered?.completionTokens ?? 0 },
  });
  const at = new Date(timings.finishedAt);
  const latencyMs = timings.finishedAt - timings.startedAt;
  const row = buildLedgerRow({
    invocationId: party.invocationId,
    eventId: party.eventId,
    platform: party.platform,
    tenantId: party.tenantId,
    chatId: party.chatId,
    userId: party.userId,
    at,
    model: answered?.modelId ?? input.model.modelId,
    latencyMs,
    cached: outcome.source === 'cache',
    usage,
    breakdown: costOfInvocation(usage, input.prices),
    retentionDays: input.retention.ledger,
  });
  // Absent keys, not undefined values: the document client rejects undefined attributes.
  const principal = party.principal === undefined ? {} : { principal: party.principal };
  const audit: AuditRecord = {
    pk: `GROUP#${groupKey(party)}`,
    sk: `${row.at}#${keyPart(party.eventId)}`,
    expiresAt: Math.floor(timings.finishedAt / 1000) + input.retention.audit * SECONDS_PER_DAY,
    at: row.at,
    platform: party.platform,
    tenantId: party.tenantId,
    chatId: party.chatId,
    userId: party.userId,
    ...principal,
    eventId: party.eventId,
    question: outcome.storedQuestion,
    answer: input.maskPii(outcome.reply),
    source: outcome.source,
    inputFilter: outcome.inputFilter,
    outputFilter: outcome.outputFilter,
    piiFound: outcome.piiFound,
    outputPiiFound: outcome.outputPiiFound ?? 0,
    model: answered?.modelId ?? null,
    modelLatencyMs: answered?.latencyMs ?? null,
    latencyMs,
    // Absent keys, not undefined values: the document client rejects undefined attributes.
    ...(timings.queuedAt === undefined ? {} : { queueWaitMs: timings.startedAt - timings.queuedAt }),
    totalUsd: row.totalUsd,
    ...(outcome.modelError ? { modelError: outcome.modelError.code } : {}),
    ...(outcome.skill ? { skill: outcome.skill } : {}),
    ...(outcome.sources ? { sources: outcome.sources.map(auditSource) } : {}),
    ...(outcome.profile ? { profile: outcome.profile } : {}),
  };
  const ledger = { ...row, ...principal, source: outcome.source, filterDecision: outcome.outputFilter };
  return { ledger: withModelSource(ledger, outcome.modelSource), audit };
}

function auditSource({ skill, title, section, url }: NonNullable<PipelineOutcome['sources']>[number]): AuditSource {
  return { skill, title, ...(section ? { section } : {}), ...(url ? { url } : {}) };
}
