import { neutraliseBroadcastAt, neutraliseSigilTag } from '#platforms/shared/mentions';

/**
 * WeCom markdown mentions a member with `<@userid>`; text messages mention only through the JSON `mentioned_list` /
 * `mentioned_mobile_list` (where `@all` means everyone), which GroupGate never sends. Every `<@…>` (also `<＠…>`,
 * `&lt;@…>`, with spaces or invisible characters) gets a full-width `＜` and shows as literal text; `@all` /
 * `@所有人` become `＠all` / `＠所有人`. Tags first: the broadcast rule would otherwise turn `<@all>` into
 * `<＠all>` before the tag rule saw it.
 */
export function neutraliseWeComMentions(text: string): string {
  return neutraliseBroadcastAt(neutraliseSigilTag(text, '@\uFF20'));
}
