/*
 * GroupGate sandbox chat page. Plain browser JS, no build step, no network beyond the same origin.
 *
 * Contract with the sandbox server (ARCHITECTURE §4.2):
 * - POST /_sandbox/events {platform, chatId, userId, text, mentionBot, threadId?, files?: [{name, contentBase64}]}
 *   → {eventId, webhookStatus, messageId?}
 * - GET /_sandbox/conversation?platform&chat → {questions}: the members' messages posted through /_sandbox/events,
 *   oldest first, each with its answer's audit facts once written (masked question, PII found, model time, source)
 * - GET /_sandbox/messages?platform&chat&inProgress=1 → what the bot delivered (and is still writing), oldest first,
 *   each with its messageId, replyTo and threadId
 * - GET /_sandbox/stream → server-sent `delivery` events: each new reply and each change to one (a streamed reply
 *   growing, then `stream: finished|failed`), matched to what is shown by platform + messageId
 * - GET /_sandbox/ledger?platform&chat → one cost row per invocation
 * - GET /_sandbox/info → model, platforms, members, groups, voice ({maxSeconds}: the longest voice message)
 * - GET /_sandbox/model, POST /_sandbox/model/primary → the primary and backup models, and the primary's switch
 *   (model-switch.js); each reply's ledger row names the model that wrote it (`model`, `modelSource`)
 *
 * The platforms do not echo members' own messages: the sandbox keeps them (the conversation route), so a reload
 * rebuilds the whole conversation; this page holds only what it is sending, and what the sandbox could not take.
 * Replies arrive on the event stream as they grow; polling fills in the rest and stands in for the stream when it
 * is down. A delivery names the member message it answers only by the platform's ids (`replyTo`), so
 * `pairReplies` maps those to events, and infers the rest from the ledger; a row's eventId names the question.
 */
import { node } from './dom.js';
import { formatLatency, formatTime, formatUsd, plural } from './format.js';
import { startModelSwitch } from './model-switch.js';
import { completedAt, exactTargets, leadingMention, pairReplies } from './pairing.js';
import { MIN_RECORDING_SECONDS, RecordingError, startRecording } from './recorder.js';
import { botMeta, quote } from './reply-meta.js';
import { explainFailure, requestJson } from './sandbox-client.js';

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
/** Platforms whose messages can start threads (Slack `thread_ts`, Feishu topic replies). */
const THREADED_PLATFORMS = new Set(['slack', 'feishu']);
/** Used until /_sandbox/info answers, so the page is usable at once. */
const DEFAULT_INFO = {
  model: { name: 'unknown', demo: false, hint: '' },
  platforms: ['feishu', 'slack', 'dingtalk', 'wecom'],
  members: ['alice', 'bob', 'carol', 'dave'],
  groups: ['eng-team', 'sales', 'support'],
  /** VOICE_MAX_SECONDS' default (functions/config/voice-config.ts). */
  voice: { maxSeconds: 60 },
};
const EMPTY_REMOTE = { messages: [], ledger: [], questions: [] };

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
  file: $('message-file'),
  sendError: $('send-error'),
  threadTarget: $('thread-target'),
  threadLabel: $('thread-target-label'),
  threadCancel: $('thread-cancel'),
  announcer: $('announcer'),
  banner: document.querySelector('[data-testid="demo-banner"]'),
  hint: document.querySelector('[data-testid="demo-hint"]'),
  hintMore: document.querySelector('.banner-more'),
  model: document.querySelector('[data-testid="model-name"]'),
  connection: document.querySelector('[data-testid="connection-status"]'),
  connectionError: $('connection-error'),
  modelSwitch: document.querySelector('[data-testid="model-switch"]'),
};

const state = {
  info: DEFAULT_INFO,
  platform: DEFAULT_INFO.platforms[0],
  group: DEFAULT_INFO.groups[0],
  member: DEFAULT_INFO.members[0],
  /** `platform|group` → member messages sent from this page (the sandbox lists them once it took them). */
  local: new Map(),
  /** `platform|group` → { messages, ledger, questions } last fetched. */
  remote: new Map(),
  /** `platform|group` → number of bot replies already announced. */
  announced: new Map(),
  /** Rendered ids of long replies the reader chose to see whole. */
  expanded: new Set(),
  /** `platform|messageId` → page time its first non-empty text was seen (stream or poll). */
  firstSeen: new Map(),
  /** `platform|messageId` → page time it was first seen complete (one-shot, or a streamed reply settled). */
  settledSeen: new Map(),
  /** `platform|messageId` → page time it was first drawn complete in the conversation. */
  shownAt: new Map(),
  /** The thread the composer posts in: { key, threadId, label }, or null for the main conversation. */
  thread: null,
  /** Whether the event stream is open; polling runs faster while it is not. */
  streamLive: false,
  /** The primary and backup models (`GET /_sandbox/model`), or null until read: which model wrote a reply. */
  models: null,
  nextLocalId: 1,
};

const chatKey = () => `${state.platform}|${state.group}`;
const deliveryKey = (message) => `${message.platform}|${message.messageId}`;
const localFor = (key) => {
  if (!state.local.has(key)) state.local.set(key, []);
  return state.local.get(key);
};

// ---------- formatting ----------

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

// ---------- errors in plain words ----------

const webhookRefusal = (status) =>
  `The bot's webhook answered HTTP ${status}, so this message was not accepted (the sandbox log says why).`;

// ---------- conversation model ----------

/**
 * The members' messages of one chat, oldest first: those the sandbox lists (also after a reload), with what this
 * page measured when it sent them, then those only this page holds (being sent, or refused on the way).
 */
function memberMessages(key) {
  const remote = state.remote.get(key) || EMPTY_REMOTE;
  const local = localFor(key);
  const sentHere = new Map(local.filter((m) => m.eventId).map((m) => [m.eventId, m]));
  const listed = remote.questions.map((q) => {
    const here = sentHere.get(q.eventId);
    const accepted = q.webhookStatus === 200;
    return {
      key: `q:${q.eventId}`,
      eventId: q.eventId,
      messageId: q.messageId || null,
      userId: q.userId,
      text: q.text,
      mention: q.mentionBot,
      threadId: q.threadId || null,
      at: Date.parse(q.at) || 0,
      ackedAt: Date.parse(q.ackedAt) || null,
      pageAt: here ? here.at : null,
      pageAckAt: here ? here.ackAt : null,
      status: accepted ? 'sent' : 'failed',
      webhookStatus: q.webhookStatus,
      error: accepted ? null : webhookRefusal(q.webhookStatus),
      answer: q.answer || null,
    };
  });
  const listedIds = new Set(listed.map((m) => m.eventId));
  const pending = local
    .filter((m) => !m.eventId || !listedIds.has(m.eventId))
    .map((m) => ({
      ...m,
      key: m.eventId ? `q:${m.eventId}` : `local:${m.id}`,
      pageAt: m.at,
      pageAckAt: m.ackAt,
      answer: null,
    }));
  return [...listed, ...pending].sort((a, b) => a.at - b.at);
}

/**
 * The question a reply answers while its ledger row is not written yet (a streamed reply's row comes when the
 * answer is complete): the member message it names exactly, else the oldest unanswered @-mention sent before the
 * reply was seen, by the member the reply @-mentions if it names one.
 */
function provisionalQuestion(message, target, waiting) {
  if (target) return waiting.find((m) => m.eventId === target) || null;
  const seenAt = state.firstSeen.get(deliveryKey(message)) ?? Date.now();
  const mentioned = leadingMention(message.text);
  return (
    waiting.find((m) => (m.pageAt ?? m.at) <= seenAt && (mentioned.length === 0 || mentioned.includes(m.userId))) ||
    null
  );
}

/**
 * Image messages (a chart the bot posted after its reply) and audio messages (a spoken answer) shown inside the reply
 * they follow: the latest earlier delivery that answers the same message (`replyTo`) and is neither. A platform whose
 * image messages name no message (DingTalk's robot API) has them shown inside the delivery right before them, when
 * that is a reply. One with no such reply stays its own item. Copies: the listed deliveries are not changed.
 */
function foldImages(messages) {
  const folded = [];
  for (const message of messages) {
    const media = message.image || message.audio;
    const previous = folded.at(-1);
    const host = !media
      ? undefined
      : message.replyTo
        ? folded.findLast((m) => !m.image && !m.audio && m.replyTo === message.replyTo)
        : previous && !previous.image && !previous.audio
          ? previous
          : undefined;
    if (host && message.image) host.images = [...(host.images || []), message.image];
    else if (host) host.audios = [...(host.audios || []), message.audio];
    else folded.push({ ...message });
  }
  return folded;
}

/** Bot replies of one chat, each with its ledger row (or null until the row is written) and the question it answered. */
function botTurns(key, members) {
  const remote = state.remote.get(key) || EMPTY_REMOTE;
  const messages = foldImages(remote.messages);
  const rows = pairReplies(messages, remote.ledger, members);
  const targets = exactTargets(messages, members);
  const claimed = new Set(rows.filter(Boolean).map((row) => row.eventId));
  const waiting = members.filter((m) => m.status === 'sent' && m.mention && m.eventId && !claimed.has(m.eventId));
  return messages.map((message, index) => {
    const row = rows[index];
    let question = row ? members.find((m) => m.eventId === row.eventId) || null : null;
    if (!row) {
      question = provisionalQuestion(message, targets[index], waiting);
      if (question) waiting.splice(waiting.indexOf(question), 1);
    }
    const deliveredAt = Date.parse(message.at) || 0;
    // Keeps a reply below its question even if the browser's and the server's clocks disagree.
    const at = question ? Math.max(deliveredAt, question.at + 1) : deliveredAt;
    const id = message.messageId ? `bot:${message.messageId}` : `bot:${index}`;
    return {
      kind: 'bot',
      key: id,
      index,
      message,
      row,
      question,
      at,
      threadId: message.threadId || null,
      platformId: message.messageId || null,
    };
  });
}

/**
 * The items of one chat in order. A thread (Slack, Feishu) is one item placed right after its root message (the
 * member or bot message whose platform id is the thread id), holding the thread's messages in order; a thread
 * whose root is not in this chat's list is placed at its first message.
 */
function timeline(key) {
  const members = memberMessages(key);
  const bots = botTurns(key, members);
  const answered = new Set(bots.map((b) => (b.row ? b.row.eventId : b.question?.eventId)).filter(Boolean));
  const items = [];
  for (const m of members) {
    items.push({ kind: 'member', key: m.key, message: m, at: m.at, threadId: m.threadId, platformId: m.messageId });
    const waiting =
      m.status === 'sent' && m.mention && !answered.has(m.eventId) && Date.now() - m.at < PENDING_GIVE_UP_MS;
    if (waiting)
      items.push({ kind: 'typing', key: `typing:${m.key}`, message: m, at: m.at + 0.5, threadId: m.threadId });
  }
  items.push(...bots);
  for (const item of items) item.id = `${key}#${item.key}`;

  const top = items.filter((item) => !item.threadId);
  const roots = new Map(top.filter((item) => item.platformId).map((item) => [item.platformId, item]));
  const threads = new Map();
  for (const item of items) {
    if (!item.threadId) continue;
    if (!threads.has(item.threadId)) threads.set(item.threadId, []);
    threads.get(item.threadId).push(item);
  }
  for (const [threadId, children] of threads) {
    children.sort((a, b) => a.at - b.at);
    const root = roots.get(threadId) || null;
    const thread = {
      kind: 'thread',
      key: `thread:${threadId}`,
      id: `${key}#thread:${threadId}`,
      threadId,
      root,
      children,
      at: root ? root.at + 0.25 : children[0].at,
    };
    if (root) root.thread = thread;
    top.push(thread);
  }
  return top.sort((a, b) => a.at - b.at);
}

// ---------- members' messages ----------

function memberStatus(m) {
  if (m.status === 'sending') return node('span', { class: 'status-line' }, 'sending…');
  if (m.status === 'failed') {
    return node('span', { class: 'status-line error', 'data-testid': 'member-message-error' }, `⚠ ${m.error}`);
  }
  if (!m.mention) return node('span', { class: 'status-line' }, 'not @-mentioned — the bot stays quiet');
  return node('span', { class: 'status-line' }, `@${BOT_NAME} · webhook ${m.webhookStatus}`);
}

/** Messages in a thread, not counting the bot's "answering…" indicator. */
const messageCount = (thread) => thread.children.filter((child) => child.kind !== 'typing').length;

/** "Reply in thread" under a message of the main conversation, on platforms with threads, once it has an id there. */
function threadButton(item, label) {
  if (item.threadId || !item.platformId || !THREADED_PLATFORMS.has(state.platform)) return null;
  return node(
    'button',
    {
      type: 'button',
      class: 'thread-reply',
      'data-testid': 'reply-in-thread',
      'data-thread-reply': item.platformId,
      'data-thread-label': label,
    },
    item.thread ? `Reply in thread (${messageCount(item.thread)})` : 'Reply in thread',
  );
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
      'data-message-id': m.messageId,
      'data-thread-id': m.threadId,
    },
    node('span', { class: 'avatar', style: `--hue:${avatarHue(m.userId)}`, 'aria-hidden': 'true' }, initials(m.userId)),
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
      threadButton(item, `${m.userId}: ${m.text}`),
    ),
  );
}

// ---------- bot replies: text, latency, cost ----------

/**
 * From the webhook's ack to the whole reply on screen. Measured by this page when it sent the question (its ack
 * arriving → the complete reply first drawn); otherwise (a reload, another tab) from the sandbox's timestamps
 * (webhook answered → reply recorded complete by the emulated platform).
 */
function ackToShown(item) {
  const q = item.question;
  const m = item.message;
  if (!q || m.stream === 'streaming') return null;
  const shownAt = state.shownAt.get(deliveryKey(m));
  if (q.pageAckAt && shownAt !== undefined && shownAt >= q.pageAckAt) {
    return { ms: shownAt - q.pageAckAt, measured: 'page' };
  }
  const done = completedAt(m);
  if (q.ackedAt && Number.isFinite(done) && done >= q.ackedAt) return { ms: done - q.ackedAt, measured: 'sandbox' };
  return null;
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

/**
 * A streamed reply's page-measured time to first visible text: first sight of it − when this page posted the
 * question. (A one-shot reply shows all its words at once: "ack → shown" covers it.)
 */
function firstWordsLabel(item) {
  const seenAt = state.firstSeen.get(deliveryKey(item.message));
  if (!item.message.stream || !item.question || item.question.pageAt === null || seenAt === undefined) return null;
  const updates = item.message.updates ?? 0;
  const growth = ` · ${updates.toLocaleString('en-US')} update${updates === 1 ? '' : 's'}`;
  return `first words ${formatLatency(Math.max(0, seenAt - item.question.pageAt))}${growth}`;
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

/**
 * An image message the bot posted (a data skill's chart), as the emulated platform stored it: a PNG shown from its
 * bytes, with its alt text. Anything but a base64 PNG is not shown.
 */
function replyImage(image) {
  if (image?.mediaType !== 'image/png' || typeof image.data !== 'string') return null;
  if (!/^[A-Za-z0-9+/]+=*$/.test(image.data)) return null;
  return node('img', {
    class: 'reply-image',
    'data-testid': 'reply-image',
    src: `data:image/png;base64,${image.data}`,
    alt: typeof image.alt === 'string' && image.alt ? image.alt : 'Chart',
    width: Number.isInteger(image.width) ? image.width : null,
    height: Number.isInteger(image.height) ? image.height : null,
  });
}

/** A spoken answer the bot posted (Ogg/Opus, as Feishu takes it), played from its bytes. */
function replyAudio(audio) {
  if (audio?.mediaType !== 'audio/ogg' || typeof audio.data !== 'string') return null;
  if (!/^[A-Za-z0-9+/]+=*$/.test(audio.data)) return null;
  return node('audio', {
    class: 'reply-audio',
    'data-testid': 'reply-audio',
    controls: true,
    preload: 'none',
    src: `data:audio/ogg;base64,${audio.data}`,
    'aria-label': 'Spoken answer',
  });
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
      'data-thread-id': item.threadId,
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
      quote(question),
      replyText(item),
      (item.message.images || (item.message.image ? [item.message.image] : [])).map(replyImage),
      (item.message.audios || (item.message.audio ? [item.message.audio] : [])).map(replyAudio),
      streamLine(item),
      botMeta(item, ackToShown(item), state.models),
      threadButton(item, `${BOT_NAME}: ${displayText(item.message.text)}`),
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

/** A thread's box below its root; its messages are reconciled into the inner list. */
function renderThread(item) {
  const count = plural(messageCount(item), 'message');
  const head = item.root ? `Thread · ${count}` : `Thread · ${count} (its first message is not in this chat's list)`;
  return node(
    'li',
    {
      class: 'thread',
      'data-testid': 'thread',
      'data-thread-id': item.threadId,
      'data-root-key': item.root ? item.root.key : null,
    },
    node('div', { class: 'thread-head' }, head),
    node('ol', { class: 'thread-items', 'aria-label': `Thread, ${count}` }),
  );
}

const RENDERERS = { member: renderMember, bot: renderBot, typing: renderTyping, thread: renderThread };
/** Items whose content can change in place (see `content`) without rebuilding their node. */
const PATCHERS = { bot: patchBot };

const threadable = (item) => Boolean(!item.threadId && item.platformId && THREADED_PLATFORMS.has(state.platform));

/** What a rendered item's structure depends on; an unchanged signature keeps its DOM node (and any open details). */
function signature(item) {
  const m = item.message;
  const thread = threadable(item) ? [item.platformId, item.thread ? messageCount(item.thread) : 0] : null;
  if (item.kind === 'member') {
    return JSON.stringify([m.status, m.eventId, m.error, m.userId === state.member, thread]);
  }
  if (item.kind === 'bot') {
    const clamp = isLong(item);
    const text = clamp ? m.text : null;
    const q = item.question;
    return JSON.stringify([
      text,
      clamp,
      (m.images || []).length,
      (m.audios || []).length,
      item.row,
      q?.key,
      q?.answer,
      ackToShown(item),
      item.at,
      state.expanded.has(item.id),
      thread,
      modelIds(),
    ]);
  }
  if (item.kind === 'thread') return JSON.stringify([item.root?.key, messageCount(item)]);
  return 'typing';
}

/** What a patcher updates in place. */
function content(item) {
  if (item.kind !== 'bot') return '';
  return JSON.stringify([item.message.text, item.message.stream, item.message.updates, firstWordsLabel(item)]);
}

const rendered = new Map();

/** The model ids a reply's "answered by" chip is told apart by; a change redraws the replies. */
const modelIds = () => (state.models ? [state.models.primary.modelId, state.models.fallback.modelId ?? null] : null);

/** Notes when each complete reply is first drawn: the end of its "ack → shown" time. */
function noteShown(items) {
  for (const item of items) {
    if (item.kind === 'thread') noteShown(item.children);
    if (item.kind !== 'bot' || isStreaming(item.message)) continue;
    const id = deliveryKey(item.message);
    if (!state.shownAt.has(id)) state.shownAt.set(id, Date.now());
  }
}

/** Puts `items` into `list` in order, reusing the node of every item whose signature did not change. */
function reconcile(list, items, keep) {
  items.forEach((item, position) => {
    keep.add(item.id);
    const sig = signature(item);
    const now = content(item);
    let entry = rendered.get(item.id);
    if (!entry || entry.sig !== sig) {
      const fresh = RENDERERS[item.kind](item);
      if (entry) entry.node.replaceWith(fresh);
      entry = { node: fresh, sig, content: now };
      rendered.set(item.id, entry);
    } else if (entry.content !== now) {
      PATCHERS[item.kind](entry.node, item);
      entry.content = now;
    }
    const current = list.children[position];
    if (current !== entry.node) list.insertBefore(entry.node, current || null);
    if (item.kind === 'thread') reconcile(entry.node.querySelector('.thread-items'), item.children, keep);
  });
}

function renderConversation() {
  const key = chatKey();
  const items = timeline(key);
  noteShown(items);
  const list = el.messages;
  const nearBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 160;
  const keep = new Set();
  reconcile(list, items, keep);
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
  renderThreadTarget();
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
  const bots = botTurns(key, memberMessages(key));
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

// ---------- threads ----------

/** Shows which thread the composer posts in (none: the main conversation). */
function renderThreadTarget() {
  const target = state.thread && state.thread.key === chatKey() ? state.thread : null;
  el.threadTarget.hidden = !target;
  el.threadLabel.textContent = target ? `Replying in thread to ${target.label}` : '';
  el.input.placeholder = target ? 'Reply in the thread…' : 'Message the group…';
}

function leaveThread() {
  state.thread = null;
  renderThreadTarget();
}

el.threadCancel.addEventListener('click', () => {
  leaveThread();
  el.input.focus();
});

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

/** The chat and speaker live in the address (`?platform&group&member`), so a reload comes back to them. */
function rememberChoice() {
  const query = new URLSearchParams({ platform: state.platform, group: state.group, member: state.member });
  history.replaceState(null, '', `${location.pathname}?${query}`);
}

function restoreChoice() {
  const query = new URLSearchParams(location.search);
  state.platform = query.get('platform') || state.platform;
  state.group = query.get('group') || state.group;
  state.member = query.get('member') || state.member;
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
  if (state.thread && state.thread.key !== chatKey()) state.thread = null;
  rememberChoice();
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
  const reply = event.target.closest('[data-thread-reply]');
  if (reply) {
    state.thread = { key: chatKey(), threadId: reply.dataset.threadReply, label: reply.dataset.threadLabel };
    renderThreadTarget();
    el.input.focus();
    return;
  }
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
  rememberChoice();
  renderConversation();
});

// ---------- sending ----------

function showSendError(text) {
  el.sendError.textContent = text;
  el.sendError.hidden = !text;
}

/** The chosen file as `POST /_sandbox/events` takes it: `{name, contentBase64}`. */
async function fileBody(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { name: file.name, contentBase64: btoa(binary) };
}

/** An audio file sent without text is a voice message: the bot transcribes it and answers the words it heard. */
const isAudio = (file) => /^audio\//.test(file.type) || /\.(ogg|opus|wav)$/i.test(file.name);

function showAttachedFile() {
  const file = el.file.files?.[0];
  $('attached-file-name').textContent = !file
    ? ''
    : isAudio(file)
      ? `🎤 ${file.name} (${Math.ceil(file.size / 1024)} KiB) goes as a voice message: send it with no text`
      : `📎 ${file.name} (${Math.ceil(file.size / 1024)} KiB) goes with the next message`;
  $('attached-file').hidden = !file;
}

el.file.addEventListener('change', showAttachedFile);
$('attached-file-remove').addEventListener('click', () => {
  el.file.value = '';
  showAttachedFile();
  el.input.focus();
});

// ---------- recording a voice message ----------

/**
 * Click 🎤 to start, click it again (or Stop and send) to send; Discard or Esc drops it. At the sandbox's longest
 * voice message (`VOICE_MAX_SECONDS`) it stops and sends by itself. The WAV goes exactly as a chosen .wav file does:
 * no text, the @-mention box as ticked. It goes to the chat and member it was recorded for; if either changed
 * meanwhile, it is discarded rather than sent somewhere the member did not speak.
 */
const recorder = {
  button: $('record-button'),
  label: $('record-button-label'),
  status: $('recording'),
  time: $('recording-time'),
  stop: $('recording-stop'),
  cancel: $('recording-cancel'),
};
/** The recording in progress: where it was started, and its controller once the microphone is open. */
let recording = null;

function showRecording(on) {
  recorder.button.setAttribute('aria-pressed', String(on));
  recorder.label.textContent = on ? 'Stop recording and send it' : 'Record a voice message';
  recorder.status.hidden = !on;
  if (on) showElapsed(0);
}

function showElapsed(seconds) {
  recorder.time.textContent = `Recording ${Math.floor(seconds)} s (stops at ${state.info.voice.maxSeconds} s)`;
}

async function beginRecording() {
  showSendError('');
  const current = { key: chatKey(), member: state.member, controller: null };
  recording = current;
  showRecording(true);
  try {
    const controller = await startRecording({
      maxSeconds: state.info.voice.maxSeconds,
      onTick: showElapsed,
      onLimit: () => endRecording(true),
    });
    // Discarded while the browser was still asking for the microphone.
    if (recording !== current) return controller.cancel();
    current.controller = controller;
    el.announcer.textContent = 'Recording. Press Stop and send when you are done.';
    recorder.stop.focus();
  } catch (err) {
    if (recording === current) recording = null;
    showRecording(false);
    showSendError(err instanceof RecordingError ? err.message : `Recording failed: ${err}. Nothing was sent.`);
  }
}

async function endRecording(sendIt) {
  const current = recording;
  if (!current) return;
  recording = null;
  showRecording(false);
  recorder.button.focus();
  if (!current.controller) return;
  if (!sendIt) {
    current.controller.cancel();
    el.announcer.textContent = 'Recording discarded.';
    return;
  }
  const { wav, seconds } = await current.controller.stop();
  if (seconds < MIN_RECORDING_SECONDS) {
    showSendError(
      `The recording was too short (${seconds.toFixed(1)} s; at least ${MIN_RECORDING_SECONDS} s): nothing was sent.`,
    );
    return;
  }
  if (chatKey() !== current.key || state.member !== current.member) {
    showSendError('The recording was discarded: the chat or the member changed while recording.');
    return;
  }
  const name = `recording-${seconds.toFixed(1)}s.wav`;
  send('', el.mention.checked, new File([wav], name, { type: 'audio/wav' }));
}

recorder.button.addEventListener('click', () => (recording ? endRecording(true) : beginRecording()));
recorder.stop.addEventListener('click', () => endRecording(true));
recorder.cancel.addEventListener('click', () => endRecording(false));
// Capture phase: while recording, Esc discards it rather than leaving a thread.
document.addEventListener(
  'keydown',
  (event) => {
    if (event.key !== 'Escape' || !recording) return;
    event.preventDefault();
    event.stopPropagation();
    endRecording(false);
  },
  true,
);

async function send(text, mention, file = null) {
  const key = chatKey();
  const thread = state.thread && state.thread.key === key ? state.thread.threadId : null;
  const message = {
    id: state.nextLocalId++,
    userId: state.member,
    text: file ? `${text}${text ? '\n' : ''}${isAudio(file) ? '🎤' : '📎'} ${file.name}` : text,
    mention,
    threadId: thread,
    at: Date.now(),
    ackAt: null,
    status: 'sending',
    eventId: null,
    messageId: null,
    webhookStatus: null,
    error: null,
  };
  localFor(key).push(message);
  renderConversation();
  scrollToLatest();
  try {
    const body = await requestJson('/_sandbox/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        platform: state.platform,
        chatId: state.group,
        userId: message.userId,
        text,
        mentionBot: mention,
        ...(thread ? { threadId: thread } : {}),
        ...(file ? { files: [await fileBody(file)] } : {}),
      }),
    });
    message.ackAt = Date.now();
    message.eventId = body.eventId || null;
    message.messageId = body.messageId || null;
    message.webhookStatus = body.webhookStatus;
    if (body.webhookStatus === 200) {
      message.status = 'sent';
      showSendError('');
    } else {
      message.status = 'failed';
      message.error = webhookRefusal(body.webhookStatus);
      showSendError(`Not delivered: ${message.error}`);
    }
  } catch (err) {
    message.status = 'failed';
    message.error = `Not sent. ${explainFailure(err)}`;
    showSendError(message.error);
  }
  if (chatKey() === key) renderConversation();
  poll();
}

el.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = el.input.value.trim();
  const file = el.file.files?.[0] ?? null;
  if (!text && !file) {
    el.input.focus();
    return;
  }
  el.input.value = '';
  el.file.value = '';
  showAttachedFile();
  fitInput();
  send(text, el.mention.checked, file);
});

/** Grows the message box with its lines (Shift+Enter) up to the CSS max-height. */
function fitInput() {
  el.input.style.height = 'auto';
  el.input.style.height = `${el.input.scrollHeight + 2}px`;
}

el.input.addEventListener('input', fitInput);

el.input.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && state.thread) {
    event.preventDefault();
    leaveThread();
    return;
  }
  // isComposing: Enter that confirms a Chinese/Japanese IME candidate must not send.
  if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
  event.preventDefault();
  el.composer.requestSubmit();
});

el.reset.addEventListener('click', () => send('/reset', true));

// The profile form sends the member's own commands (docs/PROFILES.md), as typing them would.
$('profile-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('profile-value');
  const text = value.value.trim();
  send(text ? `/profile set ${$('profile-field').value} ${text}` : `/profile clear ${$('profile-field').value}`, true);
  value.value = '';
});
$('profile-show').addEventListener('click', () => send('/profile', true));
$('profile-forget').addEventListener('click', () => send('/forget', true));

// ---------- live updates ----------

let pollTimer = 0;
let pollSeq = 0;

/** Whether the sandbox answers; `problem` is the sentence shown while it does not. */
function setConnection(live, problem) {
  el.connection.dataset.state = live ? 'live' : 'offline';
  el.connection.textContent = live ? 'live' : 'offline — retrying';
  el.connectionError.textContent = live ? '' : `${problem} This page reconnects by itself.`;
  el.connectionError.hidden = live;
}

/** Polls the current chat while the page is visible; a newer poll supersedes an older one's next tick. */
async function poll() {
  clearTimeout(pollTimer);
  const seq = ++pollSeq;
  if (document.visibilityState === 'hidden') return;
  const key = chatKey();
  const query = `platform=${encodeURIComponent(state.platform)}&chat=${encodeURIComponent(state.group)}`;
  let fetched;
  try {
    fetched = await Promise.all([
      requestJson(`/_sandbox/messages?${query}&inProgress=1`),
      requestJson(`/_sandbox/ledger?${query}`),
      requestJson(`/_sandbox/conversation?${query}`),
    ]);
  } catch (err) {
    setConnection(false, explainFailure(err));
  }
  if (fetched) {
    const [messages, ledger, conversation] = fetched;
    const previous = state.remote.get(key);
    state.remote.set(key, {
      messages: mergeDeliveries(previous ? previous.messages : [], Array.isArray(messages) ? messages : []),
      ledger: Array.isArray(ledger) ? ledger : [],
      questions: Array.isArray(conversation.questions) ? conversation.questions : [],
    });
    setConnection(true);
    if (key === chatKey()) {
      renderConversation();
      announceNewReplies(key);
    }
  }
  const fast = !state.streamLive || awaitingRows(key);
  if (seq === pollSeq) pollTimer = setTimeout(poll, fast ? POLL_MS : POLL_WITH_STREAM_MS);
}

/** Whether a reply of this chat completed recently and its ledger row (pairing, cost chips) is not listed yet. */
function awaitingRows(key) {
  const remote = state.remote.get(key);
  if (!remote) return false;
  const rows = pairReplies(remote.messages, remote.ledger, memberMessages(key));
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
  const remote = state.remote.get(key) || EMPTY_REMOTE;
  const at = remote.messages.findIndex((m) => m.messageId === delivery.messageId);
  if (at === -1 && !delivery.stream && key === chatKey()) {
    // A one-shot reply is fetched with its ledger row and audit facts, so it is first shown with its question
    // and cost. A streamed reply cannot wait: its row comes only once it is complete.
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
    voice: info.voice?.maxSeconds > 0 ? { maxSeconds: info.voice.maxSeconds } : DEFAULT_INFO.voice,
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
    applyInfo(await requestJson('/_sandbox/info'));
  } catch (err) {
    setConnection(false, explainFailure(err));
    setTimeout(loadInfo, INFO_RETRY_MS);
  }
}

restoreChoice();
renderControls();
renderConversation();
loadInfo();
openStream();
startModelSwitch(el.modelSwitch, (models) => {
  const before = JSON.stringify(modelIds());
  state.models = models;
  if (JSON.stringify(modelIds()) !== before) renderConversation();
});
