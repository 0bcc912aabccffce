/**
 * The card JSON 2.0 of a streamed Feishu reply (docs/STREAMING-AND-LONG-CONNECTION.md §1.1): one markdown element,
 * `stream_md`, whose content the stream replaces with the whole answer so far. Pure builders; no I/O.
 */

/** `element_id` of the one markdown element; the content PUT addresses it by this id. */
export const STREAM_ELEMENT_ID = 'stream_md';

/** The chat list's preview while the card streams (CowAgent's text, doc §1.1 step 1). */
export const STREAMING_SUMMARY = '[正在生成回复...]';

/** How much of the final text becomes the chat list preview once streaming is closed. */
export const SUMMARY_MAX_CHARS = 50;

/**
 * Largest markdown text on the card, in UTF-8 bytes. A card is capped at 30 KB [U: the documented cap is for
 * message-card bodies, doc §1.1 "Alternative"]; the text travels escaped inside the card JSON string (and again
 * inside the create body), so 14,000 bytes survives a 2x escaping growth, as for `post` messages (`config.ts`).
 */
export const FEISHU_CARD_TEXT_LIMIT_BYTES = 14_000;

/**
 * Client-side typewriter pacing while streaming: the client animates the new tail of each full-text update
 * (doc §1.1 step 3; values from CowAgent `_build_card_json`).
 */
const STREAMING_CONFIG = {
  print_frequency_ms: { default: 40 },
  print_step: { default: 4 },
  print_strategy: 'fast',
} as const;

/** A card that is streaming: the in-progress summary, and `markdown` (the answer so far) in `stream_md`. */
export function streamingCardJson(markdown: string): string {
  return JSON.stringify({
    schema: '2.0',
    config: {
      streaming_mode: true,
      // Every later full update replaces this card; `update_multi` must not be false (doc §1.1 step 1).
      update_multi: true,
      summary: { content: STREAMING_SUMMARY },
      streaming_config: STREAMING_CONFIG,
    },
    body: { elements: [markdownElement(markdown)] },
  });
}

/**
 * A card that has stopped streaming, for the full update (`PUT /cardkit/v1/cards/:card_id`): `streaming_mode`
 * false and a summary from the final text. A full update rather than the `settings` call, because `settings`
 * refuses `summary` (doc §1.1 step 4, option B) and it also lands after streaming auto-closed.
 * @param plainSummary the final text without markup that would read badly in the chat list (mention tags).
 */
export function settledCardJson(markdown: string, plainSummary: string): string {
  return JSON.stringify({
    schema: '2.0',
    config: { streaming_mode: false, update_multi: true, summary: { content: cardSummary(plainSummary) } },
    body: { elements: [markdownElement(markdown)] },
  });
}

/** The first `SUMMARY_MAX_CHARS` code points of `text` on one line, with an ellipsis when cut. */
export function cardSummary(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  const points = [...oneLine];
  return points.length <= SUMMARY_MAX_CHARS ? oneLine : `${points.slice(0, SUMMARY_MAX_CHARS - 1).join('')}…`;
}

/** The message `content` that sends a card entity. A bare `{"card_id":…}` is refused with 200621 (doc §1.1 step 2). */
export function cardMessageContent(cardId: string): string {
  return JSON.stringify({ type: 'card', data: { card_id: cardId } });
}

/** The card-markdown mention of the asker (`<at id=…></at>`; text and post messages use `user_id="…"` instead). */
export function cardMention(userId: string): string {
  return `<at id=${userId}></at> `;
}

function markdownElement(content: string) {
  return { tag: 'markdown', element_id: STREAM_ELEMENT_ID, content };
}
