import { replyHandleSchema } from '#platforms/manifests';
import { type IncomingMessage, MAX_MESSAGE_ATTACHMENTS, PLATFORMS } from '#platforms/types';
import * as z from '#shared/zod';

/**
 * The SQS message body between webhook and worker. Versioned so a deploy that changes the shape can drain old
 * messages; the worker validates it (a message it cannot read is a poison message and goes to the DLQ).
 */
export interface QueuedEvent {
  readonly v: 1;
  readonly conversationKey: string;
  /** The message text after trigger rules (prefix removed). */
  readonly text: string;
  readonly message: IncomingMessage;
  /** Epoch ms the webhook accepted it. */
  readonly receivedAt: number;
  /** How long the webhook worked on it before the enqueue, ms (for the cost ledger). */
  readonly ingressMs?: number;
}

export const queuedEventSchema = z.object({
  v: z.literal(1),
  conversationKey: z.string().check(z.minLength(1)),
  text: z.string(),
  receivedAt: z.number(),
  ingressMs: z.optional(z.number().check(z.nonnegative())),
  message: z.object({
    platform: z.enum(PLATFORMS),
    tenantId: z.string(),
    chatId: z.string().check(z.minLength(1)),
    chatType: z.enum(['group', 'direct']),
    threadId: z.optional(z.string()),
    senderId: z.string().check(z.minLength(1)),
    senderName: z.optional(z.string()),
    eventId: z.string().check(z.minLength(1)),
    messageId: z.string(),
    text: z.string(),
    mentionedBot: z.boolean(),
    timestamp: z.number(),
    replyHandle: replyHandleSchema,
    // References only (never the bytes): the worker downloads a file when a skill that accepts files needs it.
    attachments: z.optional(
      z
        .array(
          z.object({
            kind: z.enum(['file', 'audio']),
            name: z.string().check(z.minLength(1), z.maxLength(200)),
            size: z.optional(z.number().check(z.nonnegative())),
            ref: z.string().check(z.minLength(1), z.maxLength(4096)),
            quoted: z.optional(z.boolean()),
          }),
        )
        .check(z.maxLength(MAX_MESSAGE_ATTACHMENTS)),
    ),
  }),
});

export const MESSAGE_ATTRIBUTES = { platform: 'platform', traceId: 'traceId', eventId: 'eventId' } as const;

// SQS accepts only #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF in a body, and some
// SQS-compatible servers reject astral characters (emoji) too. Everything outside the BMP-safe range is written
// as JSON \u escapes: still valid JSON that parses back to the identical string, so no member's text is lost.
const OUTSIDE_SAFE = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD]/gu;

export function encodeQueuedEvent(event: QueuedEvent): string {
  return JSON.stringify(event).replace(OUTSIDE_SAFE, (ch) =>
    Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}
