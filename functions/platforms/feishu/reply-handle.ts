import * as z from '#shared/zod';

/** Where a Feishu/Lark reply goes. Serialisable: it travels through SQS to the worker. */
export const feishuReplyHandleSchema = z.object({
  platform: z.literal('feishu'),
  chatId: z.string(),
  /** `message_id` of the message replied to (`im/v1/messages/{id}/reply`). */
  messageId: z.string(),
  /** Reply inside the topic thread (`reply_in_thread`). */
  inThread: z.boolean(),
});
