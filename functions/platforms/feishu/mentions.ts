import { neutraliseBroadcastAt, neutraliseTag } from '#platforms/shared/mentions';

/**
 * Feishu mentions are `<at …>` tags: `<at user_id="ou_…">Name</at>` and `<at user_id="all">` in text and post
 * messages, `<at id=all></at>`, `<at id=ou_…>`, `<at ids=…>`, `<at email=…>` in card markdown. Every such tag, in
 * any attribute form or case, gets a full-width `＜` and so shows as literal text. Plain `@all` / `@所有人` is not a
 * Feishu mention; it is made full-width as well so no reply even looks like a broadcast.
 */
export function neutraliseFeishuMentions(text: string): string {
  return neutraliseBroadcastAt(neutraliseTag(text, 'at'));
}

/**
 * What may go inside `<at user_id="…">`: Feishu's ids (`ou_…` open_id, user_id, union_id) are ASCII letters, digits,
 * `_` and `-`; the check only refuses what could break out of the quoted attribute or the tag (quotes, `<`, `>`, `&`,
 * `\`, whitespace), so test and sandbox ids like `alice` still get their mention.
 */
export const FEISHU_USER_ID_SHAPE = /^[^\s"'<>&\\]{1,256}$/u;
