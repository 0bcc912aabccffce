/*
 * GroupGate sandbox chat page. Plain browser JS, no build step, no network beyond the same origin.
 *
 * Contract with the sandbox server (ARCHITECTURE §4.2):
 * - POST /_sandbox/events {platform, chatId, userId, text, mentionBot} → {eventId, webhookStatus}
 * - GET /_sandbox/messages?platform&chat&inProgress=1 → what the bot delivered (and is still writing), oldest first,
 *   each with its messageId
 * - GET /_sandbox/stream → server-sent `delivery` events: each new reply and each change to one (a streamed reply
 *   growing, then `stream: finished|failed`), matched to what is shown by platform + messageId
 * - GET /_sandbox/ledger?platform&chat → one cost row per invocation
 * - GET /_sandbox/info → model, platforms, members, groups
 *
 * The emulator does not echo members' own messages, so they are kept here, in memory, per platform+group.
 * Replies arrive on the event stream as they grow; polling fills in the ledger (cost chips, pairing) and stands in
 * for the stream whenever it is down.
 * A delivery does not name the ledger row of the invocation that sent it, so `pairReplies` infers it; a row's
 * eventId then names the member message it answered.
 */
(() => {
  const POLL_MS = 700;
  /** While the event stream is up it carries the replies; polling then only refreshes the ledger and catches gaps. */
  const POLL_WITH_STREAM_MS = 2000;
  /** A stream the browser gave up on (not just dropped: EventSource retries those itself) is reopened after this. */
  const STREAM_REOPEN_MS = 5000;
  const INFO_RETRY_MS = 2000;
  /** A mentioned message with no ledger row after this long stops showing the "thinking" indicator. */
  const PENDING_GIVE_UP_MS = 120_000;
  /**
   * A complete reply whose ledger row is not listed yet is re-fetched at POLL_MS, even while the stream is up, for
   * this long after it completed: a streamed reply's row is written as it is settled, alongside the last update.
   */
  const ROW_CHASE_MS = 15_000;
  /** Replies longer than this are clamped to a few lines, with a button to show them whole. */
  const LONG_REPLY_CHARS = 600;
  const BOT_NAME = 'GroupGate';
  const PLATFORM_LABELS = { feishu: 'Feishu / Lark', slack: 'Slack', dingtalk: 'DingTalk', wecom: 'WeCom' };
  const SOURCE_LABELS = {
    cache: 'FAQ cache',
    command: 'command',
    fallback: 'fallback answer',
    blocked_input: 'input blocked',
    empty: 'empty question',
  };
  const COST_COMPONENTS = [
    ['apiGateway', 'API Gateway'],
    ['lambda', 'Lambda'],
    ['sqs', 'SQS'],
    ['dynamodb', 'DynamoDB'],
    ['logs', 'CloudWatch Logs'],
    ['sagemaker', 'SageMaker'],
  ];
  /** Used until /_sandbox/info answers, so the page is usable at once. */
  const DEFAULT_INFO = {
    model: { name: 'unknown', demo: false, hint: '' },
    platforms: ['feishu', 'slack', 'dingtalk', 'wecom'],
    members: ['alice', 'bob', 'carol', 'dave'],
    groups: ['eng-team', 'sales', 'support'],
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    tabs: $('platform-tabs'),
    group: $('group-select'),
    member: $('member-select'),
    mention: $('mention-toggle'),
    reset: $('reset-button'),
    messages: $('messages'),
    empty: $('empty-state'),
    title: $('chat-title'),
    groupCost: document.querySelector('[data-testid="group-cost-total"]'),
    composer: $('composer'),
    input: $('message-input'),
    sendError: $('send-error'),
    announcer: $('announcer'),
    banner: document.querySelector('[data-testid="demo-banner"]'),
    hint: document.querySelector('[data-testid="demo-hint"]'),
    hintMore: document.querySelector('.banner-more'),
    model: document.querySelector('[data-testid="model-name"]'),
    connection: document.querySelector('[data-testid="connection-status"]'),
  };

  const state = {
    info: DEFAULT_INFO,
    platform: DEFAULT_INFO.platforms[0],
    group: DEFAULT_INFO.groups[0],
    member: DEFAULT_INFO.members[0],
    /** `platform|group` → member messages sent from this page. */
    local: new Map(),
    /** `platform|group` → { messages, ledger } last fetched. */
    remote: new Map(),
    /** `platform|group` → number of bot replies already announced. */
    announced: new Map(),
    /** Rendered ids of long replies the reader chose to see whole. */
    expanded: new Set(),
    /** `platform|messageId` → page time its first non-empty text was seen (stream or poll). */
    firstSeen: new Map(),
    /** `platform|messageId` → page time it was first seen complete (one-shot, or a streamed reply settled). */
    settledSeen: new Map(),
    /** Whether the event stream is open; polling runs faster while it is not. */
    streamLive: false,
    nextLocalId: 1,
  };

  const chatKey = () => `${state.platform}|${state.group}`;
  const deliveryKey = (message) => `${message.platform}|${message.messageId}`;
  const localFor = (key) => {
    if (!state.local.has(key)) state.local.set(key, []);
    return state.local.get(key);
  };

  // ---------- formatting ----------

  function formatUsd(value) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
    if (value === 0) return '$0';
    if (value >= 0.01) return `$${value.toFixed(4)}`;
    const digits = Math.min(10, Math.ceil(-Math.log10(value)) + 2);
    return `$${value.toFixed(digits).replace(/0+$/, '')}`;
  }

  function formatLatency(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
    return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms).toLocaleString('en-US')} ms`;
  }

  function formatTime(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  /**
   * Who a reply @-mentions first: Slack `<@U1>`/`<@U1|name>`, Feishu `<at user_id="x">name</at>`, or a plain
   * `@name` (the Feishu emulator records that form). DingTalk and WeCom mention outside the text: none.
   */
  function leadingMention(text) {
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
  function completedAt(message) {
    if (message.stream === 'streaming') return Number.NaN;
    const settled = message.stream ? message.updatedAt || message.at : message.at;
    return Date.parse(settled) || Number.POSITIVE_INFINITY;
  }

  /**
   * Pairs each delivery (oldest first) with the ledger row of the invocation that sent it, or null while the row
   * is not yet listed. The worker writes the row just before it sends a one-shot reply, or settles a streamed one,
   * but members are answered concurrently, so order alone can mislead: a row whose eventId is the delivery's replyTo
   * wins (DingTalk, WeCom); otherwise the oldest unpaired row written no later than the delivery was complete, for
   * the member the reply @-mentions when it names one. A reply still streaming is paired by replyTo only.
   */
  function pairReplies(messages, ledger) {
    const rows = ledger.map((row) => ({ row, at: Date.parse(row.at) || 0, used: false }));
    const take = (entry) => {
      if (!entry) return null;
      entry.used = true;
      return entry.row;
    };
    return messages.map((message) => {
      const free = rows.filter((r) => !r.used);
      const byEvent = message.replyTo ? free.find((r) => r.row.eventId === message.replyTo) : undefined;
      if (byEvent) return take(byEvent);
      const deliveredAt = completedAt(message);
      if (Number.isNaN(deliveredAt)) return null;
      const before = free.filter((r) => r.at <= deliveredAt);
      const mentioned = leadingMention(message.text);
      const forMember = before.find((r) => mentioned.includes(r.row.userId));
      return take(forMember || before[0]);
    });
  }

  /** Renders platform mention markup (Slack `<@U1|name>`, Feishu `<at user_id="x">name</at>`) as plain `@name`. */
  function displayText(text) {
    return String(text)
      .replace(/<@([A-Za-z0-9_.-]+)(?:\|([^>]+))?>/g, (_m, id, name) => `@${name || id}`)
      .replace(/<at\b[^>]*?(?:user_id|id)="([^"]*)"[^>]*>([^<]*)<\/at>/g, (_m, id, name) => `@${name || id}`);
  }

  function initials(name) {
    return String(name).slice(0, 1).toUpperCase() || '?';
  }

  /** A stable avatar colour per member name (all pass 4.5:1 against white text). */
  function avatarHue(name) {
    let hash = 0;
    for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) % 360;
    return hash;
  }

  function node(tag, attrs, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class') element.className = value;
      else if (name === 'style') element.style.cssText = value;
      else element.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  // ---------- timeline ----------

  /**
   * The question a reply answers while its ledger row is not written yet (a streamed reply's row comes when the
   * answer is complete): the member message its `replyTo` names (DingTalk, WeCom reply to the event id), else the
   * oldest unanswered @-mention sent before the reply was seen, by the member the reply @-mentions if it names one.
   */
  function provisionalQuestion(message, waiting) {
    const byEvent = message.replyTo ? waiting.find((m) => m.eventId === message.replyTo) : undefined;
    if (byEvent) return byEvent;
    const seenAt = state.firstSeen.get(deliveryKey(message)) ?? Date.now();
    const mentioned = leadingMention(message.text);
    return waiting.find((m) => m.at <= seenAt && (mentioned.length === 0 || mentioned.includes(m.userId))) || null;
  }

  /** Bot replies of one chat, each with its ledger row (or null until the row is written) and the question it answered. */
  function botTurns(key) {
    const remote = state.remote.get(key) || { messages: [], ledger: [] };
    const local = localFor(key);
    const rows = pairReplies(remote.messages, remote.ledger);
    const claimed = new Set(rows.filter(Boolean).map((row) => row.eventId));
    const waiting = local.filter((m) => m.status === 'sent' && m.mention && m.eventId && !claimed.has(m.eventId));
    return remote.messages.map((message, index) => {
      const row = rows[index];
      let question = row ? local.find((m) => m.eventId && m.eventId === row.eventId) || null : null;
      if (!row) {
        question = provisionalQuestion(message, waiting);
        if (question) waiting.splice(waiting.indexOf(question), 1);
      }
      const deliveredAt = Date.parse(message.at) || 0;
      // Keeps a reply below its question even if the browser's and the server's clocks disagree.
      const at = question ? Math.max(deliveredAt, question.at + 1) : deliveredAt;
      const id = message.messageId ? `bot:${message.messageId}` : `bot:${index}`;
      return { kind: 'bot', key: id, index, message, row, question, at };
    });
  }

  function timeline(key) {
    const bots = botTurns(key);
    const answered = new Set(bots.map((b) => (b.row ? b.row.eventId : b.question?.eventId)).filter(Boolean));
    const items = [];
    for (const m of localFor(key)) {
      items.push({ kind: 'member', key: `member:${m.id}`, message: m, at: m.at });
      const waiting =
        m.status === 'sent' && m.mention && !answered.has(m.eventId) && Date.now() - m.at < PENDING_GIVE_UP_MS;
      if (waiting) items.push({ kind: 'typing', key: `typing:${m.id}`, message: m, at: m.at + 0.5 });
    }
    items.push(...bots);
    for (const item of items) item.id = `${key}#${item.key}`;
    return items.sort((a, b) => a.at - b.at);
  }

  function memberStatus(m) {
    if (m.status === 'sending') return node('span', { class: 'status-line' }, 'sending…');
    if (m.status === 'failed') {
      return node('span', { class: 'status-line error', 'data-testid': 'member-message-error' }, `⚠ ${m.error}`);
    }
    if (!m.mention) return node('span', { class: 'status-line' }, 'not @-mentioned — the bot stays quiet');
    return node('span', { class: 'status-line' }, `@${BOT_NAME} · webhook ${m.webhookStatus}`);
  }

  function renderMember(item) {
    const m = item.message;
    const mine = m.userId === state.member;
    return node(
      'li',
      {
        class: `msg member${mine ? ' mine' : ''}${m.status === 'failed' ? ' failed' : ''}`,
        'data-testid': 'member-message',
        'data-user': m.userId,
        'data-status': m.status,
        'data-event-id': m.eventId,
      },
      node(
        'span',
        { class: 'avatar', style: `--hue:${avatarHue(m.userId)}`, 'aria-hidden': 'true' },
        initials(m.userId),
      ),
      node(
        'div',
        { class: 'bubble' },
        node(
          'div',
          { class: 'who' },
          node('span', { class: 'name' }, m.userId),
          node('time', { datetime: new Date(m.at).toISOString() }, formatTime(m.at)),
        ),
        node('p', { class: 'text', 'data-testid': 'message-text' }, m.text),
        memberStatus(m),
      ),
    );
  }

  /** Decimals that show the smallest non-zero amount with 3 significant digits (at most 9), for one aligned column. */
  function columnDecimals(values) {
    const smallest = Math.min(...values.filter((v) => typeof v === 'number' && v > 0));
    return Number.isFinite(smallest) ? Math.min(9, Math.max(2, Math.ceil(-Math.log10(smallest)) + 2)) : 2;
  }

  function costDetails(row) {
    const components = row.components || {};
    const shown = COST_COMPONENTS.filter(([id]) => typeof components[id] === 'number');
    const decimals = columnDecimals([...shown.map(([id]) => components[id]), row.totalUsd]);
    const usd = (value) => (typeof value === 'number' ? `$${value.toFixed(decimals)}` : '—');
    return node(
      'details',
      { class: 'cost-details', 'data-testid': 'cost-breakdown' },
      node('summary', {}, 'cost breakdown'),
      node(
        'table',
        {},
        node(
          'tbody',
          {},
          shown.map(([id, label]) =>
            node('tr', {}, node('th', { scope: 'row' }, label), node('td', {}, usd(components[id]))),
          ),
          node('tr', { class: 'total' }, node('th', { scope: 'row' }, 'Total'), node('td', {}, usd(row.totalUsd))),
        ),
      ),
      typeof row.totalUsd === 'number'
        ? node('p', { class: 'per-thousand' }, `≈ ${formatUsd(row.totalUsd * 1000)} per 1,000 replies like this one`)
        : null,
    );
  }

  function botMeta(row) {
    if (!row)
      return node(
        'div',
        { class: 'meta', 'data-testid': 'bot-meta' },
        node('span', { class: 'chip' }, 'measuring cost…'),
      );
    const filter = row.filterDecision || 'allow';
    const sourceLabel = SOURCE_LABELS[row.source];
    return node(
      'div',
      { class: 'meta', 'data-testid': 'bot-meta' },
      node(
        'span',
        { class: 'chip', 'data-testid': 'meta-latency', title: 'End-to-end latency' },
        `latency ${formatLatency(row.latencyMs)}`,
      ),
      node(
        'span',
        { class: `chip${row.cached ? ' good' : ''}`, 'data-testid': 'meta-cache' },
        row.cached ? 'cache hit' : 'cache miss',
      ),
      node('span', { class: `chip filter-${filter}`, 'data-testid': 'meta-filter' }, `filter: ${filter}`),
      node(
        'span',
        { class: 'chip cost', 'data-testid': 'meta-cost', title: 'Marginal AWS cost of this reply' },
        formatUsd(row.totalUsd),
      ),
      sourceLabel ? node('span', { class: 'chip', 'data-testid': 'meta-source' }, sourceLabel) : null,
      costDetails(row),
    );
  }

  const domId = (id) => `reply-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;

  const isStreaming = (message) => message.stream === 'streaming';

  /** Clamped only once written: a reply still growing stays whole, so the reader sees it grow. */
  const isLong = (item) => !isStreaming(item.message) && displayText(item.message.text).length > LONG_REPLY_CHARS;

  function replyText(item) {
    const text = displayText(item.message.text);
    const long = isLong(item);
    const expanded = state.expanded.has(item.id);
    const paragraph = node(
      'p',
      {
        class: `text${long && !expanded ? ' clamped' : ''}${isStreaming(item.message) ? ' streaming' : ''}`,
        'data-testid': 'reply-text',
        id: domId(item.id),
        // A streamed reply's words are read out as they are added (the additions only: see growText).
        'aria-live': item.message.stream ? 'polite' : null,
      },
      text,
    );
    if (!long) return paragraph;
    const toggle = node(
      'button',
      {
        type: 'button',
        class: 'expand',
        'data-expand': item.id,
        'aria-expanded': expanded ? 'true' : 'false',
        'aria-controls': domId(item.id),
      },
      expanded ? 'Show less' : `Show all ${text.length.toLocaleString('en-US')} characters`,
    );
    return [paragraph, toggle];
  }

  /** Page-measured time to first visible text: first sight of the reply − when the page posted the question. */
  function firstWordsLabel(item) {
    const seenAt = state.firstSeen.get(deliveryKey(item.message));
    if (!item.question || seenAt === undefined) return null;
    const updates = item.message.updates ?? 0;
    const growth = item.message.stream ? ` · ${updates.toLocaleString('en-US')} update${updates === 1 ? '' : 's'}` : '';
    return `first words ${formatLatency(Math.max(0, seenAt - item.question.at))}${growth}`;
  }

  const STREAM_LABELS = { streaming: 'writing…', finished: 'finished', failed: 'failed' };

  function streamLine(item) {
    const { stream } = item.message;
    const firstWords = firstWordsLabel(item);
    if (!stream && !firstWords) return node('div', { class: 'stream-line', hidden: true });
    return node(
      'div',
      { class: 'stream-line' },
      stream
        ? node(
            'span',
            { class: `chip stream-state stream-${stream}`, 'data-testid': 'stream-state', 'data-stream': stream },
            STREAM_LABELS[stream] || stream,
          )
        : null,
      firstWords
        ? node(
            'span',
            {
              class: 'chip',
              'data-testid': 'first-words',
              title: 'From posting the question to the first words of this reply on this page',
            },
            firstWords,
          )
        : null,
    );
  }

  /**
   * Shows a reply's new text in its existing paragraph. Text that only grew is appended as a new text node, so
   * the polite live region reads out the new words rather than the whole reply again.
   */
  function growText(paragraph, text) {
    const shown = paragraph.textContent;
    if (text === shown) return;
    if (shown && text.startsWith(shown)) paragraph.append(document.createTextNode(text.slice(shown.length)));
    else paragraph.textContent = text;
  }

  /** Updates a rendered reply in place (text, stream state, counts): its live region must persist to be heard. */
  function patchBot(element, item) {
    const paragraph = element.querySelector('[data-testid="reply-text"]');
    growText(paragraph, displayText(item.message.text));
    paragraph.classList.toggle('streaming', isStreaming(item.message));
    if (!isStreaming(item.message)) paragraph.normalize();
    element.dataset.stream = item.message.stream || '';
    element.querySelector('.stream-line').replaceWith(streamLine(item));
  }

  function renderBot(item) {
    const { row, question } = item;
    const askedBy = question ? question.userId : row ? row.userId : null;
    return node(
      'li',
      {
        class: 'msg bot',
        'data-testid': 'bot-message',
        'data-index': item.index,
        'data-message-id': item.message.messageId,
        'data-stream': item.message.stream || '',
        'data-answers-event': row ? row.eventId : null,
        'data-answers-user': askedBy,
      },
      node('span', { class: 'avatar bot-avatar', 'aria-hidden': 'true' }, 'G'),
      node(
        'div',
        { class: 'bubble' },
        node(
          'div',
          { class: 'who' },
          node('span', { class: 'name' }, BOT_NAME),
          node('span', { class: 'badge' }, 'bot'),
          askedBy ? node('span', { class: 'reply-to' }, `→ ${askedBy}`) : null,
          node('time', { datetime: new Date(item.at).toISOString() }, formatTime(item.at)),
        ),
        question ? node('blockquote', { class: 'quote' }, question.text) : null,
        replyText(item),
        streamLine(item),
        botMeta(row),
      ),
    );
  }

  function renderTyping(item) {
    return node(
      'li',
      { class: 'msg bot typing', 'data-testid': 'bot-typing', 'data-for-event': item.message.eventId },
      node('span', { class: 'avatar bot-avatar', 'aria-hidden': 'true' }, 'G'),
      node(
        'div',
        { class: 'bubble' },
        node('span', { class: 'dots', 'aria-hidden': 'true' }, node('i'), node('i'), node('i')),
        node('span', { class: 'typing-label' }, `${BOT_NAME} is answering ${item.message.userId}…`),
      ),
    );
  }

  const RENDERERS = { member: renderMember, bot: renderBot, typing: renderTyping };
  /** Items whose content can change in place (see `content`) without rebuilding their node. */
  const PATCHERS = { bot: patchBot };

  /** What a rendered item's structure depends on; an unchanged signature keeps its DOM node (and any open details). */
  function signature(item) {
    const m = item.message;
    if (item.kind === 'member') return JSON.stringify([m.status, m.eventId, m.error, m.userId === state.member]);
    if (item.kind === 'bot') {
      const clamp = isLong(item);
      const text = clamp ? m.text : null;
      return JSON.stringify([text, clamp, item.row, item.question?.id, item.at, state.expanded.has(item.id)]);
    }
    return 'typing';
  }

  /** What a patcher updates in place. */
  function content(item) {
    if (item.kind !== 'bot') return '';
    return JSON.stringify([item.message.text, item.message.stream, item.message.updates, firstWordsLabel(item)]);
  }

  const rendered = new Map();

  function renderConversation() {
    const key = chatKey();
    const items = timeline(key);
    const list = el.messages;
    const nearBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 160;
    const keep = new Set();
    items.forEach((item, position) => {
      const id = item.id;
      keep.add(id);
      const sig = signature(item);
      const now = content(item);
      let entry = rendered.get(id);
      if (!entry || entry.sig !== sig) {
        const fresh = RENDERERS[item.kind](item);
        if (entry) entry.node.replaceWith(fresh);
        entry = { node: fresh, sig, content: now };
        rendered.set(id, entry);
      } else if (entry.content !== now) {
        PATCHERS[item.kind](entry.node, item);
        entry.content = now;
      }
      const current = list.children[position];
      if (current !== entry.node) list.insertBefore(entry.node, current || null);
    });
    for (const [id, entry] of rendered) {
      if (!keep.has(id)) {
        entry.node.remove();
        rendered.delete(id);
      }
    }
    el.empty.hidden = items.length > 0;
    // Follows new messages unless the reader has scrolled up to read older ones.
    if (nearBottom) scrollToLatest();
    renderGroupCost(key);
  }

  function scrollToLatest() {
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function renderGroupCost(key) {
    const remote = state.remote.get(key);
    const rows = remote ? remote.ledger : [];
    const total = rows.reduce((sum, r) => sum + (typeof r.totalUsd === 'number' ? r.totalUsd : 0), 0);
    el.groupCost.textContent = rows.length
      ? `${rows.length} invocation${rows.length === 1 ? '' : 's'} · ${formatUsd(total)} total`
      : '';
  }

  function announceNewReplies(key) {
    const bots = botTurns(key);
    const seen = state.announced.get(key);
    state.announced.set(key, bots.length);
    if (seen === undefined || bots.length <= seen) return;
    const latest = bots[bots.length - 1];
    const to = latest.question ? latest.question.userId : latest.row ? latest.row.userId : null;
    // A streamed reply reads itself out as it grows (its own live region); only its start is announced here.
    el.announcer.textContent = latest.message.stream
      ? `${BOT_NAME} is replying${to ? ` to ${to}` : ''}…`
      : `${BOT_NAME} replied${to ? ` to ${to}` : ''}: ${displayText(latest.message.text)}`;
  }

  // ---------- controls ----------

  function renderTabs() {
    el.tabs.replaceChildren(
      ...state.info.platforms.map((platform) => {
        const selected = platform === state.platform;
        return node(
          'button',
          {
            type: 'button',
            role: 'tab',
            id: `tab-${platform}`,
            class: 'tab',
            'data-platform': platform,
            'data-testid': `platform-tab-${platform}`,
            'aria-selected': selected ? 'true' : 'false',
            'aria-controls': 'messages',
            tabindex: selected ? '0' : '-1',
          },
          PLATFORM_LABELS[platform] || platform,
        );
      }),
    );
  }

  function fillSelect(select, values, selected) {
    select.replaceChildren(...values.map((v) => node('option', { value: v, selected: v === selected }, v)));
    select.value = selected;
  }

  function renderControls() {
    renderTabs();
    fillSelect(el.group, state.info.groups, state.group);
    fillSelect(el.member, state.info.members, state.member);
    document.body.dataset.platform = state.platform;
    el.title.textContent = `#${state.group} on ${PLATFORM_LABELS[state.platform] || state.platform}`;
  }

  function selectPlatform(platform, focus) {
    state.platform = platform;
    chatChanged();
    if (focus) $(`tab-${platform}`).focus();
  }

  function chatChanged() {
    renderControls();
    renderConversation();
    scrollToLatest();
    poll();
  }

  el.tabs.addEventListener('click', (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) selectPlatform(tab.dataset.platform, false);
  });

  el.tabs.addEventListener('keydown', (event) => {
    const platforms = state.info.platforms;
    const at = platforms.indexOf(state.platform);
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: platforms.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = (moves[event.key] + platforms.length) % platforms.length;
    selectPlatform(platforms[next], true);
  });

  el.group.addEventListener('change', () => {
    state.group = el.group.value;
    chatChanged();
  });

  el.messages.addEventListener('click', (event) => {
    const toggle = event.target.closest('[data-expand]');
    if (!toggle) return;
    const id = toggle.dataset.expand;
    if (state.expanded.has(id)) state.expanded.delete(id);
    else state.expanded.add(id);
    renderConversation();
    document.querySelector(`[data-expand="${CSS.escape(id)}"]`)?.focus();
  });

  el.member.addEventListener('change', () => {
    state.member = el.member.value;
    renderConversation();
  });

  // ---------- sending ----------

  function showSendError(text) {
    el.sendError.textContent = text;
    el.sendError.hidden = !text;
  }

  async function send(text, mention) {
    const key = chatKey();
    const message = {
      id: state.nextLocalId++,
      userId: state.member,
      text,
      mention,
      at: Date.now(),
      status: 'sending',
      eventId: null,
      webhookStatus: null,
      error: null,
    };
    localFor(key).push(message);
    renderConversation();
    scrollToLatest();
    try {
      const response = await fetch('/_sandbox/events', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          platform: state.platform,
          chatId: state.group,
          userId: message.userId,
          text,
          mentionBot: mention,
        }),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok || !body) {
        const detail = body?.error ? ` (${body.error.message || body.error})` : '';
        throw new Error(`the sandbox server answered HTTP ${response.status}${detail}`);
      }
      message.eventId = body.eventId || null;
      message.webhookStatus = body.webhookStatus;
      if (body.webhookStatus === 200) {
        message.status = 'sent';
        showSendError('');
      } else {
        message.status = 'failed';
        message.error = `The bot's webhook answered HTTP ${body.webhookStatus}, so this message was not accepted.`;
        showSendError(`Not delivered: ${message.error}`);
      }
    } catch (err) {
      message.status = 'failed';
      message.error = `Could not send: ${err instanceof Error ? err.message : String(err)}.`;
      showSendError(message.error);
    }
    if (chatKey() === key) renderConversation();
    poll();
  }

  el.composer.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = el.input.value.trim();
    if (!text) {
      el.input.focus();
      return;
    }
    el.input.value = '';
    fitInput();
    send(text, el.mention.checked);
  });

  /** Grows the message box with its lines (Shift+Enter) up to the CSS max-height. */
  function fitInput() {
    el.input.style.height = 'auto';
    el.input.style.height = `${el.input.scrollHeight + 2}px`;
  }

  el.input.addEventListener('input', fitInput);

  el.input.addEventListener('keydown', (event) => {
    // isComposing: Enter that confirms a Chinese/Japanese IME candidate must not send.
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    el.composer.requestSubmit();
  });

  el.reset.addEventListener('click', () => send('/reset', true));

  // ---------- live updates ----------

  let pollTimer = 0;
  let pollSeq = 0;

  async function getJson(path) {
    const response = await fetch(path, { cache: 'no-store' });
    if (!response.ok) throw new Error(`${path} answered HTTP ${response.status}`);
    return response.json();
  }

  function setConnection(live) {
    el.connection.dataset.state = live ? 'live' : 'offline';
    el.connection.textContent = live ? 'live' : 'offline — retrying';
  }

  /** Polls the current chat while the page is visible; a newer poll supersedes an older one's next tick. */
  async function poll() {
    clearTimeout(pollTimer);
    const seq = ++pollSeq;
    if (document.visibilityState === 'hidden') return;
    const key = chatKey();
    const query = `platform=${encodeURIComponent(state.platform)}&chat=${encodeURIComponent(state.group)}`;
    try {
      const [messages, ledger] = await Promise.all([
        getJson(`/_sandbox/messages?${query}&inProgress=1`),
        getJson(`/_sandbox/ledger?${query}`),
      ]);
      const previous = state.remote.get(key);
      state.remote.set(key, {
        messages: mergeDeliveries(previous ? previous.messages : [], Array.isArray(messages) ? messages : []),
        ledger: Array.isArray(ledger) ? ledger : [],
      });
      setConnection(true);
      if (key === chatKey()) {
        renderConversation();
        announceNewReplies(key);
      }
    } catch {
      setConnection(false);
    }
    const fast = !state.streamLive || awaitingRows(key);
    if (seq === pollSeq) pollTimer = setTimeout(poll, fast ? POLL_MS : POLL_WITH_STREAM_MS);
  }

  /** Whether a reply of this chat completed recently and its ledger row (pairing, cost chips) is not listed yet. */
  function awaitingRows(key) {
    const remote = state.remote.get(key);
    if (!remote) return false;
    const rows = pairReplies(remote.messages, remote.ledger);
    return remote.messages.some((message, index) => {
      const settled = state.settledSeen.get(deliveryKey(message));
      return !rows[index] && settled !== undefined && Date.now() - settled < ROW_CHASE_MS;
    });
  }

  const updatesOf = (message) => message.updates ?? 0;

  /** Notes when a reply's first words were seen, and when it was complete, whichever of stream and poll showed it first. */
  function noteSeen(message) {
    const id = deliveryKey(message);
    if (message.text && !state.firstSeen.has(id)) state.firstSeen.set(id, Date.now());
    if (message.stream !== 'streaming' && !state.settledSeen.has(id)) state.settledSeen.set(id, Date.now());
  }

  /**
   * A poll's list merged with what the page already holds: a poll answered before a stream event arrived must not
   * roll a growing reply back, so per messageId the version with more updates wins, and replies the stream brought
   * after the poll's snapshot are kept.
   */
  function mergeDeliveries(held, fetched) {
    const heldById = new Map(held.filter((m) => m.messageId).map((m) => [m.messageId, m]));
    const merged = fetched.map((m) => {
      const mine = m.messageId ? heldById.get(m.messageId) : undefined;
      return mine && updatesOf(mine) > updatesOf(m) ? mine : m;
    });
    const listed = new Set(fetched.map((m) => m.messageId));
    merged.push(...held.filter((m) => m.messageId && !listed.has(m.messageId)));
    for (const m of merged) noteSeen(m);
    return merged;
  }

  /** One `delivery` event: a new reply, or a newer version of one already shown. */
  function applyDelivery(delivery) {
    if (!delivery || typeof delivery.platform !== 'string' || typeof delivery.chatId !== 'string') return;
    if (typeof delivery.messageId !== 'string' || typeof delivery.text !== 'string') return;
    const key = `${delivery.platform}|${delivery.chatId}`;
    const remote = state.remote.get(key) || { messages: [], ledger: [] };
    const at = remote.messages.findIndex((m) => m.messageId === delivery.messageId);
    if (at === -1 && !delivery.stream && key === chatKey()) {
      // A one-shot reply's ledger row was written before it was sent: fetched together, it is shown already paired
      // with its question and cost. A streamed reply cannot wait: its row comes only once it is complete.
      noteSeen(delivery);
      poll();
      return;
    }
    const messages = [...remote.messages];
    if (at === -1) messages.push(delivery);
    else if (updatesOf(delivery) >= updatesOf(messages[at])) messages[at] = delivery;
    else return;
    noteSeen(delivery);
    state.remote.set(key, { ...remote, messages });
    if (key === chatKey()) {
      renderConversation();
      announceNewReplies(key);
      // A streamed reply's ledger row is written as it is settled: fetched now (and again shortly while it is not
      // listed yet: see awaitingRows), it pairs the reply with its question and cost.
      if (delivery.stream === 'finished' || delivery.stream === 'failed') poll();
    }
  }

  /** Subscribes to `GET /_sandbox/stream`; while it is down, polling alone keeps the page current. */
  function openStream() {
    if (typeof EventSource !== 'function') return;
    const source = new EventSource('/_sandbox/stream');
    el.connection.dataset.feed = 'connecting';
    source.addEventListener('open', () => {
      state.streamLive = true;
      el.connection.dataset.feed = 'stream';
      setConnection(true);
      // Whatever was delivered while the stream was down is fetched once now.
      poll();
    });
    source.addEventListener('delivery', (event) => {
      try {
        applyDelivery(JSON.parse(event.data));
      } catch {
        // A malformed event is dropped; the next poll lists the delivery anyway.
      }
    });
    source.addEventListener('error', () => {
      const wasLive = state.streamLive;
      state.streamLive = false;
      el.connection.dataset.feed = 'poll';
      if (wasLive) poll();
      // CONNECTING: the browser retries by itself (the server's `retry:`); CLOSED: it gave up, so try again later.
      if (source.readyState === EventSource.CLOSED) setTimeout(openStream, STREAM_REOPEN_MS);
    });
  }

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') poll();
  });

  // ---------- model info ----------

  function applyInfo(info) {
    const pick = (list, fallback) => (Array.isArray(list) && list.length ? list.map(String) : fallback);
    state.info = {
      model: info.model || DEFAULT_INFO.model,
      platforms: pick(info.platforms, DEFAULT_INFO.platforms),
      members: pick(info.members, DEFAULT_INFO.members),
      groups: pick(info.groups, DEFAULT_INFO.groups),
    };
    if (!state.info.platforms.includes(state.platform)) state.platform = state.info.platforms[0];
    if (!state.info.groups.includes(state.group)) state.group = state.info.groups[0];
    if (!state.info.members.includes(state.member)) state.member = state.info.members[0];
    const model = state.info.model;
    el.model.textContent = `model: ${model.name || 'unknown'}`;
    el.banner.hidden = !model.demo;
    el.hint.textContent = model.hint || '';
    el.hintMore.hidden = !model.hint;
    chatChanged();
  }

  async function loadInfo() {
    try {
      applyInfo(await getJson('/_sandbox/info'));
    } catch {
      setConnection(false);
      setTimeout(loadInfo, INFO_RETRY_MS);
    }
  }

  renderControls();
  renderConversation();
  loadInfo();
  openStream();
})();
