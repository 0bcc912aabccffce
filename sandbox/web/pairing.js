/**
 * Which question each bot reply answers, and which ledger row (cost) it goes with. A delivery names what it
 * answers only by platform ids (`replyTo`); the ledger row names the event it was written for.
 */

/** A reply inferred from the ledger may take a row of its member written this long after it was complete. */
const LATE_ROW_MS = 5_000;

/**
 * Who a reply @-mentions first: Slack `<@U1>`/`<@U1|name>`, Feishu `<at user_id="x">name</at>`, or a plain
 * `@name` (the Feishu emulator records that form). DingTalk and WeCom mention outside the text: none.
 */
export function leadingMention(text) {
  const head = String(text).trimStart();
  const slack = /^<@([^>|]+)(?:\|([^>]*))?>/.exec(head);
  if (slack) return [slack[1], slack[2]].filter(Boolean);
  const feishu = /^<at\b[^>]*?(?:user_id|id)="([^"]*)"[^>]*>([^<]*)<\/at>/.exec(head);
  if (feishu) return [feishu[1], feishu[2]].filter(Boolean);
  const plain = /^@(\S+)/.exec(head);
  return plain ? [plain[1]] : [];
}

/**
 * When a delivery was complete, for pairing: a one-shot reply when it was sent; a streamed reply when it was
 * settled (finished or failed: its last update), since the worker writes the row once the answer is complete,
 * after the reply started showing. A reply still streaming has none: its row is not written yet.
 */
export function completedAt(message) {
  if (message.stream === 'streaming') return Number.NaN;
  const settled = message.stream ? message.updatedAt || message.at : message.at;
  return Date.parse(settled) || Number.POSITIVE_INFINITY;
}

/**
 * The event id each delivery names exactly, or null: its `replyTo` is the member message's event id (DingTalk,
 * WeCom) or that message's platform id (Slack `thread_ts` of a thread started on it, Feishu `message_id`). In a
 * Slack thread every reply names the thread's root, so only the oldest reply naming it is taken to answer it.
 */
export function exactTargets(messages, members) {
  const eventByMessageId = new Map(members.filter((m) => m.messageId).map((m) => [m.messageId, m.eventId]));
  const named = new Set();
  return messages.map((message) => {
    if (!message.replyTo || named.has(message.replyTo)) return null;
    named.add(message.replyTo);
    return eventByMessageId.get(message.replyTo) ?? message.replyTo;
  });
}

/**
 * Pairs each delivery (oldest first) with the ledger row of the invocation that sent it, or null while the row
 * is not yet listed. First the exact ones (`exactTargets`); the rest, whose rows are inferred since members are
 * answered concurrently: the oldest free row written no later than the delivery was complete, for the member
 * the reply @-mentions when it names one (or that member's row written just after it). A reply still streaming is
 * paired exactly or not at all.
 */
export function pairReplies(messages, ledger, members) {
  const rows = ledger.map((row) => ({ row, at: Date.parse(row.at) || 0, used: false }));
  const targets = exactTargets(messages, members);
  const reserved = new Set(targets.filter(Boolean));
  const paired = targets.map((eventId) => {
    const entry = eventId ? rows.find((r) => !r.used && r.row.eventId === eventId) : undefined;
    if (!entry) return null;
    entry.used = true;
    return entry.row;
  });
  messages.forEach((message, index) => {
    if (paired[index] || targets[index]) return;
    const deliveredAt = completedAt(message);
    if (Number.isNaN(deliveredAt)) return;
    const free = rows.filter((r) => !r.used && !reserved.has(r.row.eventId));
    const mentioned = leadingMention(message.text);
    const forMember = (r) => mentioned.includes(r.row.userId);
    const onTime = free.filter((r) => r.at <= deliveredAt);
    const late = free.filter((r) => r.at > deliveredAt && r.at <= deliveredAt + LATE_ROW_MS);
    const entry = onTime.find(forMember) || late.find(forMember) || onTime[0];
    if (!entry) return;
    entry.used = true;
    paired[index] = entry.row;
  });
  return paired;
}
