import { neutraliseBroadcastAt, neutraliseSigilTag } from '#platforms/shared/mentions';
import { capReplyChars, type ReplyLimits, sanitizeReplyText } from '#platforms/shared/reply-text';

/** `markdown_text` limit of `chat.startStream`/`appendStream`/`stopStream`/`update`/`postMessage` (12,000 characters). */
export const SLACK_MARKDOWN_TEXT_LIMIT = 12_000;
/**
 * The longest answer one streamed message carries, in code points. Below the 12,000 limit with room for the
 * mention, and for astral characters should Slack count UTF-16 units (unverified); `limits.maxChars` applies too.
 */
const STREAM_ANSWER_MAX_CHARS = 10_000;

/**
 * Model text for `markdown_text` (standard markdown, not mrkdwn). Nothing is HTML-escaped (a markdown renderer
 * would show `&lt;` literally); instead every `<` that opens Slack's `<@U…>`, `<!here>`, `<!subteam^…>` or `<#C…>`
 * syntax, and every `@here`-style word, becomes its full-width twin, so the only live mention is the asker's,
 * added by the caller. Whether `markdown_text` renders `<@U…>` as a mention at all is unverified.
 */
export function neutraliseSlackMarkdown(text: string): string {
  return neutraliseBroadcastAt(neutraliseSigilTag(text, '@!#'));
}

export interface SlackStreamText {
  /** The whole message for `text`: mention, neutralised answer, capped (with the truncation note) to one message. */
  whole(text: string): string;
  /**
   * What an interim push may show of `text`: `whole(text)` without its last, unfinished word (neutralising looks
   * ahead, so `<`, `@her` or half a surrogate pair may still change with the next token). Undefined while the answer
   * is over the cap: its cut moves as it grows, so only the settle shows it.
   */
  interim(text: string): string | undefined;
}

export function slackStreamText(mention: string, limits: ReplyLimits): SlackStreamText {
  const maxChars = Math.min(limits.maxChars, STREAM_ANSWER_MAX_CHARS);
  const clean = (text: string) => neutraliseSlackMarkdown(sanitizeReplyText(text));
  return {
    whole: (text) => mention + capReplyChars(clean(text), maxChars),
    interim: (text) => {
      const cleaned = clean(text);
      if (capReplyChars(cleaned, maxChars) !== cleaned) return undefined;
      const view = mention + cleaned;
      const boundary = lastWhitespaceEnd(view);
      return boundary > mention.length ? view.slice(0, boundary) : view;
    },
  };
}

/** Index just after the last whitespace character, or 0. */
function lastWhitespaceEnd(text: string): number {
  for (let i = text.length - 1; i >= 0; i--) {
    if (/\s/u.test(text.charAt(i))) return i + 1;
  }
  return 0;
}
