/**
 * Who a delivered message would notify, read off the send API's wire body as the platform parses it. The emulators
 * record it with each delivery (`mentions`), so tests can prove that only the asker is ever @-mentioned, whatever
 * the model wrote. Broadcasts come back as `all` (Feishu `<at user_id="all">`, DingTalk `isAtAll`, WeCom `@all`,
 * Slack `<!channel>`/`<!here>`/`<!everyone>`).
 */

const SLACK_LIVE = /<(@[\w.-]+|!channel|!here|!everyone|!subteam\^[^>|]+)(?:\|[^>]*)?>/g;

export function slackMentions(text: string): string[] {
  return [...text.matchAll(SLACK_LIVE)].map((m) => {
    const token = m[1] ?? '';
    return token.startsWith('@') ? token.slice(1) : ['!channel', '!here', '!everyone'].includes(token) ? 'all' : token;
  });
}

/** Feishu: `<at user_id|id|open_id|ids|email=...>` in text and card markdown, `{"tag":"at","user_id":...}` in posts. */
export function feishuMentions(content: string): string[] {
  const tags = [...content.matchAll(/<at\s+(?:user_id|id|open_id|ids|email)\s*=\s*\\?["']?([^"'\\>\s]+)/gi)].map(
    (m) => m[1] ?? '',
  );
  const postAts = [...content.matchAll(/"tag"\s*:\s*"at"\s*,\s*"user_id"\s*:\s*"([^"]+)"/g)].map((m) => m[1] ?? '');
  return [...tags, ...postAts];
}

/** DingTalk notifies only who the `at` object names; text never mentions by itself. */
export function dingtalkMentions(at: unknown): string[] {
  if (typeof at !== 'object' || at === null) return [];
  const { atUserIds, isAtAll } = at as { atUserIds?: unknown; isAtAll?: unknown };
  const ids = Array.isArray(atUserIds) ? atUserIds.filter((v): v is string => typeof v === 'string') : [];
  return [...ids, ...(isAtAll === true ? ['all'] : [])];
}

/** WeCom: `<@userid>` in markdown, `mentioned_list` in text, and `@all` in either. */
export function wecomMentions(content: string, mentionedList: unknown): string[] {
  const tags = [...content.matchAll(/<@([^>\s]+)>/g)].map((m) => m[1] ?? '');
  const listed = Array.isArray(mentionedList) ? mentionedList.filter((v): v is string => typeof v === 'string') : [];
  return [...tags, ...listed].map((id) => (id === '@all' ? 'all' : id));
}
