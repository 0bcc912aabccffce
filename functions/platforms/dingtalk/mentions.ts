import { neutraliseBroadcastAt } from '#platforms/shared/mentions';

/**
 * DingTalk decides who is notified from the message JSON alone: `at.atUserIds`, `at.atMobiles` and `at.isAtAll`
 * (sessionWebhook); the robot group-message API's `sampleText`/`sampleMarkdown` carry no `at` at all. An `@userId`
 * in the text only marks where a listed user's mention renders. GroupGate lists nobody but the asker and always
 * sends `isAtAll: false`, so text cannot notify anyone else; `@all` / `@所有人` in the text is still made
 * full-width (`＠all`) so no reply even looks like a broadcast, and so a future `at` field cannot pick it up.
 */
export function neutraliseDingTalkMentions(text: string): string {
  return neutraliseBroadcastAt(text);
}

/**
 * `senderStaffId` (letters, digits, `_`, `-`) or the encrypted `senderId` (`$:LWCP_v1:$…`, base64). The id only ever
 * goes into `atUserIds` as a JSON string, so only whitespace-free, bounded ids are required.
 */
export const DINGTALK_USER_ID_SHAPE = /^\S{1,256}$/u;
