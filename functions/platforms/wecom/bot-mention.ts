/**
 * Removing the bot's own "@Name" from message text on platforms that put it there as plain text (WeCom AI bots,
 * DingTalk robots). Whether the bot was mentioned is decided by id elsewhere; this only cleans the text.
 */

/** Horizontal whitespace the clients put after a mention (U+2005 is what the mobile clients insert). */
const AFTER_MENTION = '[ \\t\\u00a0\\u2005]';
/** A mention token that starts the text or follows whitespace, so "mail@example.com" is never taken for one. */
const MENTION_TOKEN = /(?<=^|\s)@[^\s@]+/g;

export interface MentionOptions {
  /** The bot's display name as members see it; when set, every `@<botName>` is removed. */
  readonly botName?: string;
  /**
   * When the platform says the bot is the only one mentioned and the text holds exactly one mention token, that
   * token is the bot's and is removed even without `botName`.
   */
  readonly onlyBotMentioned: boolean;
}

/**
 * @returns the text without the bot's mention(s), trimmed at both ends; other mentions stay as written and the
 *   inner text is otherwise byte-for-byte unchanged.
 */
export function stripBotMention(text: string, options: MentionOptions): string {
  if (options.botName) {
    const pattern = new RegExp(`@${escapeRegExp(options.botName)}(?=\\s|$)${AFTER_MENTION}*`, 'gu');
    return text.replace(pattern, '').trim();
  }
  if (options.onlyBotMentioned) {
    const tokens = text.match(MENTION_TOKEN) ?? [];
    if (tokens.length === 1) {
      return text.replace(new RegExp(`${MENTION_TOKEN.source}${AFTER_MENTION}*`), '').trim();
    }
  }
  return text.trim();
}

/** Whether the text holds `@<botName>` as a whole mention (not a prefix of a longer name). */
export function mentionsName(text: string, botName: string): boolean {
  return new RegExp(`@${escapeRegExp(botName)}(?:\\s|$)`, 'u').test(text);
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
