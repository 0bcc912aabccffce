import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, screenshot } from '../helpers/browser';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';

/**
 * Issue 17's chart, end to end through `npm start`'s code path: a member asks the sandbox's data skill on the page
 * (`/sql` on the sample sales data, a (label, number) result) → webhook → queue → worker → the skill's answer with a
 * PNG → the platform adapter posts the table, then uploads the chart (Slack: external upload; Feishu: im/v1/images
 * and an image reply; WeCom: the stream's finishing refresh answer carries it as `msg_item`; DingTalk: media/upload
 * and a robot `sampleImageMsg`) to the emulator → the page shows the table and the image under it, once.
 */

const SCREENSHOT_DIR = resolve(__dirname, '../../.sandbox-data/screenshots');
const SQL = '/sql sales SELECT region, sum(units) AS units FROM sales GROUP BY region ORDER BY region';

interface Delivered {
  chatId: string;
  text: string;
  threadId?: string;
  image?: { mediaType: string; data: string; alt: string; width: number; height: number };
}

let sandbox: SandboxProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  [sandbox, browser] = await Promise.all([
    startSandboxProcess({ MODEL_ENGINE: 'instant', FALLBACK_MODEL: 'off' }),
    launchBrowser(),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`);
  });
  await page.goto(sandbox.url);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await sandbox?.stop();
});

afterEach(() => expect(pageErrors.splice(0)).toEqual([]));

async function openChat(platform: string, group: string): Promise<void> {
  await page.getByTestId(`platform-tab-${platform}`).click();
  await page.getByTestId('group-select').selectOption(group);
  await page.getByTestId('member-select').selectOption('alice');
  await page.getByTestId('mention-toggle').setChecked(true);
}

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

async function delivered(platform: string, chat: string): Promise<Delivered[]> {
  const res = await fetch(`${sandbox.url}/_sandbox/messages?platform=${platform}&chat=${chat}`);
  return (await res.json()) as Delivered[];
}

describe('a /sql answer with a chart, on the page', () => {
  it.each([
    ['slack', 'Bar chart of units by region'],
    ['feishu', 'Bar chart of units by region'],
    // WeCom (webhook mode): the chart rides on the stream's finishing answer as `msg_item`, shown in its bubble.
    ['wecom', 'Bar chart of units by region'],
    // DingTalk: the image message names no reply; the page shows it under the reply right before it.
    ['dingtalk', 'Bar chart of units by region'],
  ])(
    '%s: the table, then the chart image under it, each once',
    async (platform, alt) => {
      await openChat(platform, 'eng-team');
      const before = (await delivered(platform, 'eng-team')).length;
      const eventId = await ask(SQL);
      const image = page.locator(
        `[data-testid="bot-message"][data-answers-event="${eventId}"] [data-testid="reply-image"]`,
      );
      await image.first().waitFor({ timeout: 45_000 });
      // The browser decoded the PNG the emulator stored: a real image, at the chart's size.
      const size = await image
        .first()
        .evaluate((img) => [
          (img as { complete: boolean }).complete,
          (img as { naturalWidth: number }).naturalWidth,
          (img as { naturalHeight: number }).naturalHeight,
        ]);
      expect(size[0]).toBe(true);
      expect(size[1]).toBeGreaterThan(50);
      expect(size[2]).toBe(220);
      if (platform === 'slack') expect(await image.first().getAttribute('alt')).toContain(alt);
      await screenshot(page, resolve(SCREENSHOT_DIR, `page-chart-${platform}.png`));

      // Exactly two new deliveries: the table and the image, in that order, in the same place.
      await new Promise((r) => setTimeout(r, 1500));
      const fresh = (await delivered(platform, 'eng-team')).slice(before);
      expect(fresh).toHaveLength(2);
      expect(fresh[0]?.text).toMatch(/\| region\s*\|\s*units \|/);
      expect(fresh[0]?.image).toBeUndefined();
      expect(fresh[1]?.image).toMatchObject({ mediaType: 'image/png', height: 220 });
      expect(fresh[1]?.threadId).toBe(fresh[0]?.threadId);
      await expect(page.locator(`[data-answers-event="${eventId}"] [data-testid="reply-image"]`).count()).resolves.toBe(
        1,
      );
    },
    90_000,
  );
});
