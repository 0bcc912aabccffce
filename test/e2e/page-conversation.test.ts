import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import type { ConversationQuestion } from '../../sandbox/conversation-log';
import { launchBrowser, screenshot } from '../helpers/browser';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';

/**
 * The sandbox page as a member uses it (issue 21, "Sandbox page"), in headless Chromium against `npm start`'s code
 * path with the instant engine (it echoes the question it was sent, paced so the model takes measurable time):
 * two honest latency figures, a conversation that survives a reload, the masked quote of a question with PII, the
 * FAQ cache chip, /reset's chips, threads on Slack and Feishu, and plain sentences for a sandbox that fails or is
 * not running. Screenshots of each state go to `.sandbox-data/screenshots/page-*.png`. The FAQ cache is shared by
 * the whole sandbox, so every question here is worded differently unless a test repeats one on purpose.
 */

const SCREENSHOT_DIR = resolve(__dirname, '../../.sandbox-data/screenshots');

interface LedgerRow {
  eventId: string;
  userId: string;
  source: string;
  cached: boolean;
  totalUsd: number;
  components: Record<string, number>;
}

let sandbox: SandboxProcess;
let browser: Browser;
let page: Page;
/** Script errors, and console errors other than the failed loads a test provokes on purpose. */
const pageErrors: string[] = [];
let failedLoadsExpected = false;

beforeAll(async () => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  [sandbox, browser] = await Promise.all([
    startSandboxProcess({ MODEL_ENGINE: 'instant', MODEL_STREAM_PACE_MS: '30' }),
    launchBrowser(),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const provoked =
      failedLoadsExpected && /Failed to load resource|ERR_CONNECTION_REFUSED|EventSource/.test(msg.text());
    if (!provoked) pageErrors.push(`console: ${msg.text()}`);
  });
  await page.goto(sandbox.url);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await sandbox?.stop();
});

afterEach(() => {
  failedLoadsExpected = false;
  expect(pageErrors.splice(0)).toEqual([]);
});

const shot = (name: string) => screenshot(page, resolve(SCREENSHOT_DIR, `page-${name}.png`));

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`${sandbox.url}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

const ledger = (platform: string, chat: string) =>
  getJson<LedgerRow[]>(`/_sandbox/ledger?platform=${platform}&chat=${chat}`);

async function question(platform: string, chat: string, eventId: string): Promise<ConversationQuestion> {
  const { questions } = await getJson<{ questions: ConversationQuestion[] }>(
    `/_sandbox/conversation?platform=${platform}&chat=${chat}`,
  );
  const found = questions.find((q) => q.eventId === eventId);
  if (!found) throw new Error(`the sandbox does not list question ${eventId}`);
  return found;
}

async function openChat(platform: string, group: string, member: string): Promise<void> {
  await page.getByTestId(`platform-tab-${platform}`).click();
  await page.getByTestId('group-select').selectOption(group);
  await page.getByTestId('member-select').selectOption(member);
  await page.getByTestId('mention-toggle').setChecked(true);
}

/** Sends as the selected member and returns the event id the sandbox gave the message. */
async function ask(text: string): Promise<string> {
  const members = page.getByTestId('member-message');
  const before = await members.count();
  const input = page.getByTestId('message-input');
  await input.fill(text);
  await input.press('Enter');
  const sent = members.nth(before);
  await sent.and(page.locator('[data-status="sent"], [data-status="failed"]')).waitFor({ timeout: 15_000 });
  expect(await sent.getAttribute('data-status')).toBe('sent');
  return (await sent.getAttribute('data-event-id')) ?? '';
}

const replyTo = (eventId: string) => page.locator(`[data-testid="bot-message"][data-answers-event="${eventId}"]`);
const memberMessage = (eventId: string) => page.locator(`[data-testid="member-message"][data-event-id="${eventId}"]`);

/** The reply to `eventId` once complete, paired with its ledger row and annotated with both latency figures. */
async function answered(eventId: string): Promise<Locator> {
  const reply = replyTo(eventId);
  await reply.and(page.locator(':not([data-stream="streaming"])')).waitFor({ timeout: 30_000 });
  await reply.locator('[data-testid="meta-shown"]:not([data-pending])').waitFor({ timeout: 15_000 });
  await reply.locator('[data-testid="meta-model"]:not([data-pending])').waitFor({ timeout: 15_000 });
  return reply;
}

/** The `data-thread-id` of the element right after a member's message: its thread, when it has one. */
const threadAfter = (eventId: string) =>
  page.evaluate<string | null>(
    `document.querySelector('[data-testid="member-message"][data-event-id="${eventId}"]')` +
      `.nextElementSibling?.getAttribute('data-thread-id') ?? null`,
  );

const attributeNumber = async (locator: Locator, name: string) => Number(await locator.getAttribute(name));
const latencyText = (ms: number) => `${Math.round(ms).toLocaleString('en-US')} ms`;

describe('the sandbox chat page, a conversation through it', () => {
  it('shows two honest latency figures: ack → shown measured by the page, and the model’s own time', async () => {
    await openChat('feishu', 'eng-team', 'alice');
    const started = Date.now();
    const eventId = await ask('How long does the model take to answer this particular question?');
    const reply = await answered(eventId);
    const took = Date.now() - started;

    const shown = reply.getByTestId('meta-shown');
    const model = reply.getByTestId('meta-model');
    expect(await shown.getAttribute('data-measured')).toBe('page');
    const shownMs = await attributeNumber(shown, 'data-ms');
    const modelMs = await attributeNumber(model, 'data-ms');
    expect(await shown.textContent()).toBe(`ack → shown ${latencyText(shownMs)}`);
    expect(await model.textContent()).toBe(`model ${latencyText(modelMs)}`);
    // The model's figure is the audit record's; the page's figure spans it (the ack comes before the worker starts).
    const facts = (await question('feishu', 'eng-team', eventId)).answer;
    expect(facts?.modelLatencyMs).toBeGreaterThan(0);
    expect(modelMs).toBe(Math.round(facts?.modelLatencyMs ?? Number.NaN));
    expect(shownMs).toBeGreaterThanOrEqual(modelMs);
    expect(shownMs).toBeLessThanOrEqual(took);
    // Each says what it measures.
    expect(await shown.getAttribute('title')).toMatch(/ack.*shown here, measured by this page/);
    expect(await model.getAttribute('title')).toMatch(/^Time the model took/);
    await expect(reply.getByTestId('meta-cache').textContent()).resolves.toBe('cache miss');
    await shot('latency');
  }, 60_000);

  it('quotes a question with personal data in the masked form the model saw, with a PII chip', async () => {
    const text = 'Please call me back on 13812345678 about the VPN outage';
    const eventId = await ask(text);
    const reply = await answered(eventId);

    const facts = (await question('feishu', 'eng-team', eventId)).answer;
    expect(facts).toMatchObject({ piiFound: 1, piiMaskedForModel: true });
    const masked = facts?.storedQuestion ?? '';
    expect(masked).not.toContain('13812345678');
    expect(masked).toMatch(/^Please call me back on \[.+\] about the VPN outage$/);
    const quoted = reply.getByTestId('reply-quote');
    await expect(quoted.textContent()).resolves.toBe(masked);
    expect(await quoted.getAttribute('data-masked')).toBe('true');
    await expect(reply.getByTestId('meta-pii').textContent()).resolves.toBe('PII masked');
    expect(await reply.getByTestId('meta-pii').getAttribute('title')).toMatch(
      /^1 item of personal data \(.+\) masked before the model saw/,
    );
    // The member's own bubble keeps what they typed; the echo shows the model never saw the number.
    await expect(memberMessage(eventId).getByTestId('message-text').textContent()).resolves.toBe(text);
    await expect(reply.getByTestId('reply-text').textContent()).resolves.not.toContain('13812345678');
    // A question without PII has neither the chip nor a masked quote.
    const plain = await answered(await ask('Which floor is the platform team on?'));
    await expect(plain.getByTestId('meta-pii').count()).resolves.toBe(0);
    expect(await plain.getByTestId('reply-quote').getAttribute('data-masked')).toBeNull();
    await shot('pii');
  }, 60_000);

  it('marks an answer that came from the FAQ cache, with no model call', async () => {
    const faq = 'Where is the cafeteria menu posted each week?';
    await page.getByTestId('member-select').selectOption('bob');
    const first = await answered(await ask(faq));
    await expect(first.getByTestId('meta-cache').textContent()).resolves.toBe('cache miss');

    // carol has no context in this chat yet, so her identical question is context-free: the cache answers it.
    await page.getByTestId('member-select').selectOption('carol');
    const eventId = await ask(faq);
    const reply = await answered(eventId);
    const row = (await ledger('feishu', 'eng-team')).find((r) => r.eventId === eventId);
    expect(row).toMatchObject({ source: 'cache', cached: true, userId: 'carol' });
    await expect(reply.getByTestId('meta-cache').textContent()).resolves.toBe('from FAQ cache');
    await expect(reply.getByTestId('meta-model').textContent()).resolves.toBe('no model call · model $0');
    expect(await reply.getByTestId('meta-model').getAttribute('title')).toContain('answered from the FAQ cache');
    expect(await reply.getByTestId('meta-shown').getAttribute('data-measured')).toBe('page');
    await shot('cache');
  }, 60_000);

  it('gives a /reset reply the same chips: no model call, cache not used, its cost', async () => {
    await page.getByTestId('member-select').selectOption('alice');
    await page.getByTestId('reset-button').click();
    const sent = page.getByTestId('member-message').last();
    await sent.and(page.locator('[data-status="sent"]')).waitFor();
    expect(await sent.getByTestId('message-text').textContent()).toBe('/reset');
    const eventId = (await sent.getAttribute('data-event-id')) ?? '';
    const reply = await answered(eventId);

    const row = (await ledger('feishu', 'eng-team')).find((r) => r.eventId === eventId);
    expect(row).toMatchObject({ source: 'command', cached: false });
    expect(row?.components.sagemaker).toBe(0);
    await expect(reply.getByTestId('reply-text').textContent()).resolves.toContain('Context cleared');
    await expect(reply.getByTestId('meta-model').textContent()).resolves.toBe('no model call · model $0');
    await expect(reply.getByTestId('meta-cache').textContent()).resolves.toBe('cache not used');
    await expect(reply.getByTestId('meta-source').textContent()).resolves.toBe('command');
    const usd = Number((await reply.getByTestId('meta-cost').textContent())?.replace(/^\$/, ''));
    expect(usd).toBeGreaterThan(0);
    expect(Math.abs(usd - (row?.totalUsd ?? 0)) / (row?.totalUsd ?? 1)).toBeLessThan(0.01);
    expect(await reply.getByTestId('meta-shown').getAttribute('data-ms')).toMatch(/^\d+$/);
    await shot('reset');
  }, 60_000);

  it('keeps the conversation across a reload: the members’ messages and the replies, in order', async () => {
    /** Every message of the open chat in page order: who or which reply, its text, and what a reply quotes. */
    const transcript = () =>
      page.evaluate<
        string[]
      >(`[...document.querySelectorAll('[data-testid="member-message"], [data-testid="bot-message"]')]
        .map((m) => m.dataset.testid === 'member-message'
          ? 'member ' + m.dataset.user + ' ' + m.dataset.eventId + ': ' + m.querySelector('[data-testid="message-text"]').textContent
          : 'bot ' + m.dataset.answersEvent + ' quoting ' + (m.querySelector('[data-testid="reply-quote"]')?.textContent ?? '-')
            + ' | ' + m.querySelector('[data-testid="meta-model"]').textContent)`);
    const before = await transcript();
    expect(before.filter((line) => line.startsWith('member '))).toHaveLength(6);
    expect(before.filter((line) => line.startsWith('bot '))).toHaveLength(6);

    await page.reload();
    const bots = page.getByTestId('bot-message');
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      const paired = await page.locator('[data-testid="bot-message"][data-answers-event]').count();
      if (paired === 6 && (await page.locator('[data-pending]').count()) === 0) break;
      await page.waitForTimeout(100);
    }
    await expect(page.getByTestId('chat-title').textContent()).resolves.toBe('#eng-team on Feishu / Lark');
    expect(await page.getByTestId('member-select').inputValue()).toBe('alice');
    expect(await transcript()).toEqual(before);
    // After a reload the page did not see the acks: the figure comes from the sandbox's timestamps, and says so.
    const shown = bots.first().getByTestId('meta-shown');
    expect(await shown.getAttribute('data-measured')).toBe('sandbox');
    expect(await shown.getAttribute('title')).toContain('from the sandbox’s timestamps');
    await expect(page.getByTestId('bot-typing').count()).resolves.toBe(0);
    await shot('reload');
  }, 60_000);

  it('Slack: a reply nests in the thread of its question, and a message sent in the thread joins it', async () => {
    await openChat('slack', 'sales', 'dave');
    const rootEvent = await ask('Who approves travel expenses for the sales team?');
    const root = memberMessage(rootEvent);
    const threadTs = (await root.getAttribute('data-message-id')) ?? '';
    expect(threadTs).toMatch(/^\d+\.\d{6}$/);
    const thread = page.locator(`[data-testid="thread"][data-thread-id="${threadTs}"]`);
    await answered(rootEvent);
    await expect(thread.locator(`[data-answers-event="${rootEvent}"]`).count()).resolves.toBe(1);
    expect(await thread.getAttribute('data-root-key')).toBe(`q:${rootEvent}`);
    // Nested right under its root, and no reply is left in the main conversation.
    await expect(threadAfter(rootEvent)).resolves.toBe(threadTs);
    await expect(page.locator('#messages > [data-testid="bot-message"]').count()).resolves.toBe(0);

    await root.getByTestId('reply-in-thread').click();
    await expect(page.getByTestId('thread-target').textContent()).resolves.toContain('Replying in thread to dave:');
    const followEvent = await ask('And who approves them when that person is away?');
    const follow = memberMessage(followEvent);
    expect(await follow.getAttribute('data-thread-id')).toBe(threadTs);
    await expect(
      thread.locator(`[data-testid="member-message"][data-event-id="${followEvent}"]`).count(),
    ).resolves.toBe(1);
    const followReply = await answered(followEvent);
    expect(await followReply.getAttribute('data-thread-id')).toBe(threadTs);
    await expect(followReply.getByTestId('reply-quote').textContent()).resolves.toBe(
      'And who approves them when that person is away?',
    );
    await expect(thread.getByTestId('bot-message').count()).resolves.toBe(2);
    expect(await thread.locator('.thread-head').textContent()).toBe('Thread · 3 messages');
    await shot('thread-slack');

    await page.getByTestId('message-input').press('Escape');
    await expect(page.getByTestId('thread-target').isHidden()).resolves.toBe(true);
  }, 60_000);

  it('Feishu: a reply in a thread nests under its root, while the root’s own answer stays in the main chat', async () => {
    await openChat('feishu', 'sales', 'dave');
    const rootEvent = await ask('When is the next product roadmap review?');
    const rootReply = await answered(rootEvent);
    // Feishu answers a plain question in the chat, quoting it: not in a thread.
    expect(await rootReply.getAttribute('data-thread-id')).toBeNull();
    await expect(page.locator(`#messages > [data-answers-event="${rootEvent}"]`).count()).resolves.toBe(1);

    const root = memberMessage(rootEvent);
    const rootId = (await root.getAttribute('data-message-id')) ?? '';
    expect(rootId).toMatch(/^om_/);
    await root.getByTestId('reply-in-thread').click();
    const followEvent = await ask('Can the roadmap review be moved to Thursday?');
    const thread = page.locator(`[data-testid="thread"][data-thread-id="${rootId}"]`);
    const followReply = await answered(followEvent);
    await expect(thread.locator(`[data-answers-event="${followEvent}"]`).count()).resolves.toBe(1);
    await expect(thread.locator(`[data-event-id="${followEvent}"]`).count()).resolves.toBe(1);
    expect(await followReply.getAttribute('data-thread-id')).toBe(rootId);
    await expect(threadAfter(rootEvent)).resolves.toBe(rootId);
    await shot('thread-feishu');
    await page.getByTestId('thread-cancel').click();
  }, 60_000);

  it('says in a sentence what went wrong when sending fails: nothing answering, a 4xx with its reason, a 5xx', async () => {
    failedLoadsExpected = true;
    const origin = new URL(sandbox.url).origin;
    const start = `PORT=${new URL(sandbox.url).port} npm start`;
    const sendError = page.getByTestId('send-error');
    const failedWith = async (text: string) => {
      const members = page.getByTestId('member-message');
      const before = await members.count();
      await page.getByTestId('message-input').fill(text);
      await page.getByTestId('message-input').press('Enter');
      await members.nth(before).and(page.locator('[data-status="failed"]')).waitFor();
      await expect(members.nth(before).getByTestId('member-message-error').textContent()).resolves.toBe(
        `⚠ ${await sendError.textContent()}`,
      );
      return sendError.textContent();
    };

    await page.route('**/_sandbox/events', (route) => route.abort('connectionrefused'));
    const refused = await failedWith('Is anyone there? (network down)');
    expect(refused).toBe(
      `Not sent. The sandbox is not running at ${origin}: start it with "${start}" (in the project folder).`,
    );
    expect(refused).not.toContain('Failed to fetch');
    await page.unroute('**/_sandbox/events');

    await page.route('**/_sandbox/events', (route) =>
      route.fulfill({
        status: 400,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'invalid_request', message: 'text must be a string' } }),
      }),
    );
    expect(await failedWith('A refused message')).toBe(
      'Not sent. The sandbox refused it (HTTP 400, invalid_request: text must be a string).',
    );
    await page.unroute('**/_sandbox/events');

    await page.route('**/_sandbox/events', (route) =>
      route.fulfill({
        status: 500,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'sandbox_error', message: 'See the sandbox log.' } }),
      }),
    );
    expect(await failedWith('A message the sandbox fails on')).toBe(
      'Not sent. The sandbox failed (HTTP 500, sandbox_error: See the sandbox log.): the terminal running it shows why.',
    );
    await shot('error-send');
    await page.unroute('**/_sandbox/events');

    // Messages the sandbox never took stay on this page only: it does not list them.
    const { questions } = await getJson<{ questions: ConversationQuestion[] }>(
      '/_sandbox/conversation?platform=feishu&chat=sales',
    );
    expect(questions.map((q) => q.text)).not.toContain('A refused message');
  }, 60_000);

  it('tells a member the sandbox stopped, and how to start it, instead of failing silently', async () => {
    failedLoadsExpected = true;
    const origin = new URL(sandbox.url).origin;
    const notRunning = `The sandbox is not running at ${origin}: start it with "PORT=${new URL(sandbox.url).port} npm start" (in the project folder).`;
    await sandbox.stop();

    const banner = page.getByTestId('connection-error');
    await banner.waitFor({ state: 'visible', timeout: 15_000 });
    await expect(banner.textContent()).resolves.toBe(`${notRunning} This page reconnects by itself.`);
    await expect(page.getByTestId('connection-status').textContent()).resolves.toBe('offline — retrying');

    const members = page.getByTestId('member-message');
    const before = await members.count();
    await page.getByTestId('message-input').fill('Hello? (the sandbox is stopped)');
    await page.getByTestId('message-input').press('Enter');
    await members.nth(before).and(page.locator('[data-status="failed"]')).waitFor();
    await expect(page.getByTestId('send-error').textContent()).resolves.toBe(`Not sent. ${notRunning}`);
    await shot('stopped');
  }, 60_000);
});
