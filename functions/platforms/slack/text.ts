/**
 * Turns Slack's wire text into plain text for the model: removes the bot's own `<@BOT>` mention, writes other
 * user mentions as `@name` (from `<@U123|name>`) or `@U123`, special mentions (`<!here>`) as `@here`, channel
 * links as `#name`, URL links as their label or URL, then undoes Slack's `&amp;` `&lt;` `&gt;` escaping last.
 */
export function normaliseSlackText(text: string, botUserId: string): string {
  const replaced = text.replace(/<([@#!])([^>|]+)(?:\|([^>]*))?>|<([^>|]+)(?:\|([^>]*))?>/g, (...groups) => {
    const [, sigil, id, label, url, urlLabel] = groups as (string | undefined)[];
    if (sigil === '@') return id === botUserId ? '' : `@${label || id}`;
    if (sigil === '#') return `#${label || id}`;
    if (sigil === '!') return `@${label || (id ?? '').split('^')[0]}`;
    return urlLabel || url || '';
  });
  return replaced
    .replace(/[ \t]{2,}/g, ' ')
    .trim()
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Whether the text mentions the bot by id (never by display name). */
export function mentionsSlackUser(text: string, userId: string): boolean {
  return text.includes(`<@${userId}>`) || text.includes(`<@${userId}|`);
}
