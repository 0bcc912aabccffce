import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chatInBrowser, launchBrowser, screenshot } from '../helpers/browser';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';

/**
 * A person's view of `npm start`: headless Chromium chats through the sandbox page, which runs the real handlers
 * against the default generated llama demo model. Fails (never skips) when /usr/bin/chromium is missing.
 */
interface LedgerRow {
  eventId: string;
  userId: string;
  latencyMs: number;
  cached: boolean;
  filterDecision: string;
  source: string;
  totalUsd: number;
}

interface Delivery {
  text: string;
}

const SCREENSHOT_DIR = resolve(__dirname, '../../artifacts/screenshots');
/** The page clamps replies longer than this (sandbox/web/app.js LONG_REPLY_CHARS). */
const LONG_REPLY_CHARS = 600;

let sandbox: SandboxProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  [sandbox, browser] = await Promise.all([startSandboxProcess(), launchBrowser()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`);
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await sandbox?.stop();
});

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`${sandbox.url}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

const ledger = (platform: string, chat: string) =>
  getJson<LedgerRow[]>(`/_sandbox/ledger?platform=${platform}&chat=${encodeURIComponent(chat)}`);
const deliveries = (platform: string, chat: string) =>
  getJson<Delivery[]>(`/_sandbox/messages?platform=${platform}&chat=${encodeURIComponent(chat)}`);

const replyFor = (eventId: string) => page.locator(`[data-testid="bot-message"][data-answers-event="${eventId}"]`);

async function sendAs(member: string, text: string): Promise<void> {
  await page.getByTestId('member-select').selectOption(member);
  const input = page.getByTestId('message-input');
  await input.fill(text);
  await input.press('Enter');
}

describe('the sandbox chat page in headless Chromium', () => {
  it('shows a member the reply to an @-mention, annotated with its latency figures, cache, filter and cost', async () => {
    await page.goto(sandbox.url);
    await expect(page.getByTestId('model-name').textContent()).resolves.toBe('model: GroupGate demo model (generated)');
    await page.getByTestId('demo-banner').waitFor({ state: 'visible' });
    expect(await page.getByTestId('demo-hint').textContent()).toContain('MODEL_PATH=');

    const { eventId, replyText } = await chatInBrowser(page, sandbox.url, {
      platform: 'feishu',
      group: 'eng-team',
      member: 'alice',
      text: 'What are the office hours?',
    });

    const row = (await ledger('feishu', 'eng-team')).find((r) => r.eventId === eventId);
    expect(row).toMatchObject({ userId: 'alice', source: 'model', cached: false, filterDecision: 'allow' });
    const [delivered] = await deliveries('feishu', 'eng-team');
    expect(delivered?.text.startsWith('@alice')).toBe(true);
    expect(replyText).toBe(delivered?.text);

    const reply = replyFor(eventId);
    await expect(reply.count()).resolves.toBe(1);
    expect(await reply.getAttribute('data-answers-user')).toBe('alice');
    // Two figures: webhook ack → reply shown (measured by the page) spans the model's own time (its audit record).
    await reply.locator('[data-testid="meta-shown"]:not([data-pending])').waitFor();
    const shownMs = Number(await reply.getByTestId('meta-shown').getAttribute('data-ms'));
    const modelMs = Number(await reply.getByTestId('meta-model').getAttribute('data-ms'));
    expect(modelMs).toBeGreaterThan(0);
    expect(shownMs).toBeGreaterThanOrEqual(modelMs);
    expect(await reply.getByTestId('meta-cache').textContent()).toBe('cache miss');
    expect(await reply.getByTestId('meta-filter').textContent()).toBe('filter: allow');
    const shownUsd = Number((await reply.getByTestId('meta-cost').textContent())?.replace(/^\$/, ''));
    expect(shownUsd).toBeGreaterThan(0);
    expect(Math.abs(shownUsd - row!.totalUsd) / row!.totalUsd).toBeLessThan(0.01);
    await expect(page.getByTestId('bot-typing').count()).resolves.toBe(0);

    // The demo model writes hundreds of tokens: long replies are clamped with a way to read them whole.
    const expand = reply.locator('button.expand');
    if (replyText.length > LONG_REPLY_CHARS) {
      expect(await reply.getByTestId('reply-text').getAttribute('class')).toContain('clamped');
      await expand.click();
      expect(await reply.locator('button.expand').getAttribute('aria-expanded')).toBe('true');
      expect(await reply.getByTestId('reply-text').getAttribute('class')).not.toContain('clamped');
    } else {
      await expect(expand.count()).resolves.toBe(0);
    }
  }, 60_000);

  it('pairs each reply with its own asker when two members of a group ask at once', async () => {
    await page.getByTestId('platform-tab-slack').click();
    await page.getByTestId('group-select').selectOption('sales');
    await page.getByTestId('mention-toggle').setChecked(true);
    await sendAs('alice', 'How do refunds work?');
    await sendAs('bob', 'And where is the price list?');

    const bots = page.getByTestId('bot-message');
    await bots.nth(1).waitFor({ timeout: 30_000 });
    // Every reply paired with its ledger row: none left without data-answers-event (several may wait at once, so
    // their count is polled: a locator's waitFor allows only one match).
    const unpaired = page.locator('[data-testid="bot-message"]:not([data-answers-event])');
    for (const deadline = Date.now() + 30_000; (await unpaired.count()) > 0 && Date.now() < deadline; ) {
      await page.waitForTimeout(100);
    }
    await expect(unpaired.count()).resolves.toBe(0);
    const rows = await ledger('slack', 'sales');
    expect(rows.map((r) => r.userId).sort()).toEqual(['alice', 'bob']);
    for (const row of rows) {
      const reply = replyFor(row.eventId);
      await expect(reply.count()).resolves.toBe(1);
      expect(await reply.getAttribute('data-answers-user')).toBe(row.userId);
      // Slack's `<@alice>` markup reaches the page as a readable @-mention of the same member.
      expect(await reply.getByTestId('reply-text').textContent()).toMatch(new RegExp(`^@${row.userId}\\b`));
      const question = page.locator(`[data-testid="member-message"][data-event-id="${row.eventId}"]`);
      expect(await question.getAttribute('data-user')).toBe(row.userId);
    }
    // Speaking as bob now: his message is drawn as "mine", alice's is not.
    const members = page.getByTestId('member-message');
    expect(await members.nth(0).getAttribute('class')).not.toContain('mine');
    expect(await members.nth(1).getAttribute('class')).toContain('mine');
  }, 60_000);

  it('Reset clears the speaker’s context with a command reply that costs no model call', async () => {
    await page.getByTestId('platform-tab-feishu').click();
    await page.getByTestId('group-select').selectOption('eng-team');
    await page.getByTestId('member-select').selectOption('alice');
    const before = await page.getByTestId('bot-message').count();
    await page.getByTestId('reset-button').click();

    const sent = page.getByTestId('member-message').last();
    await sent.and(page.locator('[data-status="sent"]')).waitFor();
    expect(await sent.getByTestId('message-text').textContent()).toBe('/reset');
    const eventId = (await sent.getAttribute('data-event-id')) ?? '';
    const reply = replyFor(eventId);
    await reply.waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('bot-message').count()).resolves.toBe(before + 1);
    expect(await reply.getByTestId('reply-text').textContent()).toContain('Context cleared');
    expect(await reply.getByTestId('meta-source').textContent()).toBe('command');
    const row = (await ledger('feishu', 'eng-team')).find((r) => r.eventId === eventId);
    expect(row).toMatchObject({ userId: 'alice', source: 'command' });
  }, 60_000);

  it('stays quiet without an @-mention and sends nothing for an empty message', async () => {
    await page.getByTestId('group-select').selectOption('support');
    const members = page.getByTestId('member-message');
    await page.getByTestId('message-input').press('Enter');
    await expect(members.count()).resolves.toBe(0);
    await expect(page.getByTestId('empty-state').isVisible()).resolves.toBe(true);

    await page.getByTestId('mention-toggle').setChecked(false);
    await sendAs('carol', 'just chatting among humans');
    await members.first().and(page.locator('[data-status="sent"]')).waitFor();
    expect(await members.first().textContent()).toContain('not @-mentioned');
    await expect(page.getByTestId('bot-typing').count()).resolves.toBe(0);
    await page.waitForTimeout(3_000);
    await expect(page.getByTestId('bot-message').count()).resolves.toBe(0);
    expect(await deliveries('feishu', 'support')).toEqual([]);
    await page.getByTestId('mention-toggle').setChecked(true);
  }, 30_000);

  it('switching platform shows that platform’s own conversation, and switching back restores the first', async () => {
    await page.getByTestId('group-select').selectOption('eng-team');
    const feishuReplies = await page.getByTestId('bot-message').count();
    expect(feishuReplies).toBeGreaterThanOrEqual(2);

    await page.getByTestId('platform-tab-wecom').click();
    expect(await page.getByTestId('platform-tab-wecom').getAttribute('aria-selected')).toBe('true');
    expect(await page.getByTestId('chat-title').textContent()).toBe('#eng-team on WeCom');
    await expect(page.getByTestId('bot-message').count()).resolves.toBe(0);
    const { eventId } = await chatInBrowser(page, sandbox.url, {
      platform: 'wecom',
      group: 'eng-team',
      member: 'dave',
      text: '这周谁值班？',
    });
    expect(await replyFor(eventId).getAttribute('data-answers-user')).toBe('dave');
    expect(await page.getByTestId('group-cost-total').textContent()).toMatch(/^1 invocation · \$0\.\d+ total$/);

    await page.getByTestId('platform-tab-feishu').click();
    await expect(page.getByTestId('bot-message').count()).resolves.toBe(feishuReplies);
    expect(await page.getByTestId('chat-title').textContent()).toBe('#eng-team on Feishu / Lark');
  }, 60_000);

  it('fits a 375 px phone without sideways scrolling, and leaves screenshots for a person to look at', async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const desktop = resolve(SCREENSHOT_DIR, 'sandbox-chat-desktop.png');
    await screenshot(page, desktop);

    const phone = await browser.newPage({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
    try {
      await chatInBrowser(phone, sandbox.url, { platform: 'slack', group: 'sales', member: 'carol', text: 'Hi!' });
      // A string, because this project's TypeScript has no DOM types: it runs in the page.
      const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      const mobile = resolve(SCREENSHOT_DIR, 'sandbox-chat-375px.png');
      await screenshot(phone, mobile);
      console.log(`screenshots: ${desktop} ${mobile}`);
    } finally {
      await phone.close();
    }
  }, 60_000);
});
