import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { PlatformName } from '#platforms/types';
import type { DocumentClient } from '#shared/json-document-client';
import * as z from '#shared/zod';

/**
 * The members' side of the sandbox conversations, for the web page (`GET /_sandbox/conversation`): the platforms
 * never echo a member's own message back, so the sandbox keeps each one posted through `POST /_sandbox/events`, and
 * joins it with what the audit record says about its answer (masked question, PII found, model time, source). A
 * page reloaded mid-conversation rebuilds it from this and `GET /_sandbox/messages`.
 */

/** One member message posted through `POST /_sandbox/events`. */
export interface PostedQuestion {
  readonly platform: PlatformName;
  readonly chatId: string;
  readonly userId: string;
  readonly text: string;
  readonly mentionBot: boolean;
  /** The thread it was posted in (Slack `thread_ts`, Feishu root message id). */
  readonly threadId?: string;
  readonly eventId: string;
  /**
   * The platform's id of the member's message (Slack `ts`, Feishu `message_id`) where the emulator names one: what a
   * reply's `replyTo` and a thread's `threadId` refer to.
   */
  readonly messageId?: string;
  /** The webhook's HTTP status: only 200 was accepted. */
  readonly webhookStatus: number;
  /** ISO time it was posted to the webhook. */
  readonly at: string;
  /** ISO time the webhook answered (its ack). */
  readonly ackedAt: string;
}

/** How the question was answered, from its audit record. */
export interface AnswerFacts {
  readonly source: string;
  /** The question as the pipeline stored it: PII-masked. */
  readonly storedQuestion: string;
  readonly piiFound: number;
  /** PII was found and the model was sent the masked form (`MASK_MODEL_INPUT` on, and the model was asked). */
  readonly piiMaskedForModel: boolean;
  /** The model call's duration; null when no model was called (cache, commands, blocked input). */
  readonly modelLatencyMs: number | null;
  /** The worker's time: claim → records. */
  readonly workerMs: number;
  /** What of the asker's profile shaped the answer (docs/PROFILES.md), e.g. `language=ja(member)`; absent: nothing. */
  readonly profile?: string;
}

export interface ConversationQuestion extends PostedQuestion {
  /** Absent until the invocation's records are written. */
  readonly answer?: AnswerFacts;
}

/** Bounds the log of a long-running sandbox; the oldest questions go first. */
export const QUESTION_LOG_LIMIT = 10_000;

export class QuestionLog {
  private readonly questions: PostedQuestion[] = [];

  constructor(private readonly limit = QUESTION_LOG_LIMIT) {}

  record(question: PostedQuestion): void {
    this.questions.push(question);
    if (this.questions.length > this.limit) this.questions.splice(0, this.questions.length - this.limit);
  }

  /** Oldest first; `null` filters match everything, like `GET /_sandbox/messages`. */
  list(platform: string | null, chatId: string | null): PostedQuestion[] {
    return this.questions.filter((q) => (!platform || q.platform === platform) && (!chatId || q.chatId === chatId));
  }
}

/** The audit fields the page needs; other fields of the item are ignored. */
const auditItemSchema = z.object({
  eventId: z.string(),
  platform: z.string(),
  chatId: z.string(),
  question: z.string(),
  source: z.string(),
  piiFound: z.number(),
  modelLatencyMs: z.nullable(z.number()),
  latencyMs: z.number(),
  profile: z.optional(z.string()),
});

export type AuditFields = z.infer<typeof auditItemSchema>;

/** Sources where the model was asked the question (and so saw it masked or not). */
const MODEL_ASKED = new Set(['model', 'fallback']);

/**
 * Each question with its answer's facts (matched on `platform` + `eventId`). `maskModelInput` is the worker's
 * `MASK_MODEL_INPUT`: with it off the model saw PII unmasked, and `piiMaskedForModel` says so.
 */
export function joinAnswers(
  questions: readonly PostedQuestion[],
  audit: readonly AuditFields[],
  maskModelInput: boolean,
): ConversationQuestion[] {
  const byEvent = new Map(audit.map((a) => [`${a.platform}#${a.eventId}`, a]));
  return questions.map((q) => {
    const a = byEvent.get(`${q.platform}#${q.eventId}`);
    if (!a) return q;
    const answer: AnswerFacts = {
      source: a.source,
      storedQuestion: a.question,
      piiFound: a.piiFound,
      piiMaskedForModel: a.piiFound > 0 && maskModelInput && MODEL_ASKED.has(a.source),
      modelLatencyMs: a.modelLatencyMs,
      workerMs: a.latencyMs,
      ...(a.profile ? { profile: a.profile } : {}),
    };
    return { ...q, answer };
  });
}

/** The audit items of one platform / chat (null: any), by a full scan: the sandbox's tables are small. */
export async function readAudit(
  doc: DocumentClient,
  tableName: string,
  platform: string | null,
  chatId: string | null,
): Promise<AuditFields[]> {
  const items: AuditFields[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
    for (const item of out.Items ?? []) {
      const parsed = auditItemSchema.safeParse(item);
      if (!parsed.success) continue;
      if ((!platform || parsed.data.platform === platform) && (!chatId || parsed.data.chatId === chatId))
        items.push(parsed.data);
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}
