import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import type { ConversationQuestion } from '../../sandbox/conversation-log';
import { launchBrowser, screenshot } from '../helpers/browser';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';

/**
 * Member profiles on the sandbox page (docs/PROFILES.md), in headless Chromium against `npm start`'s code path with
 * the instant engine: a member sets their profile with the page's profile form (it sends `/profile set …` as that
 * member), and each reply says which profile shaped it; another member asking the same question is shaped by their
 * own profile, and "Forget me" removes it. Screenshot: `.sandbox-data/screenshots/page-profile.png`.
 */

const SCREENSHOT_DIR = resolve(__dirname, '../../.sandbox-data/screenshots');

let sandbox: SandboxProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  [sandbox, browser] = await Promise.all([startSandboxProcess({ MODEL_ENGINE: 'instant' }), launchBrowser()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`);
  });
  await page.goto(sandbox.url);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await sandbox?.stop();
});

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

async function facts(eventId: string): Promise<ConversationQuestion['answer']> {
  const chat = await page.getByTestId('group-select').inputValue();
  const res = await fetch(`${sandbox.url}/_sandbox/conversation?platform=slack&chat=${chat}`);
  const { questions } = (await res.json()) as { questions: ConversationQuestion[] };
  return questions.find((q) => q.eventId === eventId)?.answer;
}

/** The newest member message's event id once the webhook took it. */
async function lastSent(before: number): Promise<string> {
  const sent = page.getByTestId('member-message').nth(before);
  await sent.and(page.locator('[data-status="sent"], [data-status="failed"]')).waitFor({ timeout: 15_000 });
  expect(await sent.getAttribute('data-status')).toBe('sent');
  return (await sent.getAttribute('data-event-id')) ?? '';
}

async function answered(eventId: string): Promise<Locator> {
  const reply = page.locator(`[data-testid="bot-message"][data-answers-event="${eventId}"]`);
  await reply.and(page.locator(':not([data-stream="streaming"])')).waitFor({ timeout: 30_000 });
  await reply.locator('[data-testid="meta-model"]:not([data-pending])').waitFor({ timeout: 15_000 });
  return reply;
}

async function setProfile(field: string, value: string): Promise<Locator> {
  const before = await page.getByTestId('member-message').count();
  await page.getByTestId('profile-field').selectOption(field);
  await page.getByTestId('profile-value').fill(value);
  await page.getByTestId('profile-set').click();
  return answered(await lastSent(before));
}

async function ask(text: string): Promise<[string, Locator]> {
  const before = await page.getByTestId('member-message').count();
  const input = page.getByTestId('message-input');
  await input.fill(text);
  await input.press('Enter');
  const eventId = await lastSent(before);
  return [eventId, await answered(eventId)];
}

it('sets a member’s profile from the page and shows which profile shaped each reply', async () => {
  await page.getByTestId('platform-tab-slack').click();
  const options = page.getByTestId('member-select').locator('option');
  const [first, second] = [await options.nth(0).getAttribute('value'), await options.nth(1).getAttribute('value')];
  if (!first || !second) throw new Error('the sandbox lists fewer than two members');
  await page.getByTestId('mention-toggle').setChecked(true);

  await page.getByTestId('member-select').selectOption(first);
  const saved = await setProfile('language', 'ja');
  await expect(saved.getByTestId('reply-text').textContent()).resolves.toContain('Saved: language = ja.');
  await setProfile('role', 'Engineering manager');

  const question = `What is our incident process ${Date.now().toString(36)}?`;
  const [firstEvent, firstReply] = await ask(question);
  await expect(firstReply.getByTestId('meta-profile').textContent()).resolves.toBe(
    'profile: language=ja(member) audience=manager(member)',
  );
  expect((await facts(firstEvent))?.profile).toBe('language=ja(member) audience=manager(member)');

  // Another member asking the same question is shaped by their own profile: none.
  await page.getByTestId('member-select').selectOption(second);
  const [secondEvent, secondReply] = await ask(question);
  await expect(secondReply.getByTestId('meta-profile').count()).resolves.toBe(0);
  expect((await facts(secondEvent))?.profile).toBeUndefined();
  await screenshot(page, resolve(SCREENSHOT_DIR, 'page-profile.png'));

  // "Forget me" deletes it: the first member's next answer is shaped by nothing.
  await page.getByTestId('member-select').selectOption(first);
  const before = await page.getByTestId('member-message').count();
  await page.getByTestId('profile-forget').click();
  const forgotten = await answered(await lastSent(before));
  await expect(forgotten.getByTestId('reply-text').textContent()).resolves.toContain('Your profile');
  const [, after] = await ask(`${question} again`);
  await expect(after.getByTestId('meta-profile').count()).resolves.toBe(0);
}, 120_000);
