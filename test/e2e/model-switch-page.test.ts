import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import type { ModelsView } from '../../sandbox/model-control';
import { launchBrowser, screenshot } from '../helpers/browser';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';

/**
 * The chat page's model control and "answered by" label (issue 16, offline mode), in headless Chromium against
 * `npm start` with the instant engine and its default backup model: a member takes the primary down and brings it
 * back from the page, and every model-written reply names the model that wrote it — the id the reply's ledger row
 * records (the data the page reads), labelled primary or backup. The backup label needs the worker's fallback
 * composition (`FALLBACK_MODEL_ENDPOINT_URL`), which the sandbox hands it.
 */

const SCREENSHOT_DIR = resolve(__dirname, '../../.sandbox-data/screenshots');

interface LedgerRow {
  eventId: string;
  model: string;
  modelSource?: string;
}

let sandbox: SandboxProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  [sandbox, browser] = await Promise.all([startSandboxProcess({ MODEL_ENGINE: 'instant' }), launchBrowser()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`);
  });
  await page.goto(`${sandbox.url}/?platform=slack&group=eng-team&member=alice`);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await sandbox?.stop();
});

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

async function models(): Promise<ModelsView> {
  const res = await fetch(`${sandbox.url}/_sandbox/model`);
  expect(res.status).toBe(200);
  return (await res.json()) as ModelsView;
}

async function ledgerRow(eventId: string): Promise<LedgerRow> {
  const res = await fetch(`${sandbox.url}/_sandbox/ledger?platform=slack&chat=eng-team`);
  const row = ((await res.json()) as LedgerRow[]).find((r) => r.eventId === eventId);
  if (!row) throw new Error(`no ledger row for ${eventId}`);
  return row;
}

/** Sends as the selected member and returns the event id of the message. */
async function ask(text: string): Promise<string> {
  const members = page.getByTestId('member-message');
  const before = await members.count();
  await page.getByTestId('message-input').fill(text);
  await page.getByTestId('message-input').press('Enter');
  const sent = members.nth(before);
  await sent.and(page.locator('[data-status="sent"], [data-status="failed"]')).waitFor({ timeout: 15_000 });
  expect(await sent.getAttribute('data-status')).toBe('sent');
  return (await sent.getAttribute('data-event-id')) ?? '';
}

/** The "answered by" chip of the reply to `eventId`, once the reply is paired with its ledger row. */
async function answeredBy(eventId: string): Promise<Locator> {
  const chip = page.locator(
    `[data-testid="bot-message"][data-answers-event="${eventId}"] [data-testid="meta-answered-by"]`,
  );
  await chip.waitFor({ timeout: 30_000 });
  return chip;
}

const primaryState = () => page.getByTestId('primary-state');

describe('the model control and the "answered by" label', () => {
  it('shows the primary up, the backup that stands by, and labels a reply with the primary’s id', async () => {
    await primaryState().and(page.locator('[data-state="up"]')).waitFor({ timeout: 10_000 });
    const view = await models();
    if (view.fallback.state !== 'up') throw new Error('the sandbox runs no backup model');
    await expect(primaryState().textContent()).resolves.toBe(`primary ${view.primary.modelId}: up`);
    await expect(page.getByTestId('backup-state').textContent()).resolves.toBe(`backup ${view.fallback.modelId}`);
    await expect(page.getByTestId('primary-toggle').textContent()).resolves.toBe('Take primary down');

    const eventId = await ask('Which model is answering right now?');
    const chip = await answeredBy(eventId);
    const row = await ledgerRow(eventId);
    expect(row.model).toBe(view.primary.modelId);
    expect(await chip.getAttribute('data-role')).toBe('primary');
    expect(await chip.getAttribute('data-model-id')).toBe(row.model);
    await expect(chip.textContent()).resolves.toBe(`answered by primary · ${row.model}`);
  }, 60_000);

  it('takes the primary down from the page, labels the backup’s reply, and brings the primary back', async () => {
    await page.getByTestId('primary-toggle').click();
    await primaryState().and(page.locator('[data-state="down"]')).waitFor({ timeout: 10_000 });
    const view = await models();
    expect(view.primary.state).toBe('down');
    if (view.fallback.state !== 'up') throw new Error('the sandbox runs no backup model');
    await expect(page.getByTestId('primary-down-note').textContent()).resolves.toBe(
      `Replies come from the backup model ${view.fallback.modelId}.`,
    );
    await expect(page.getByTestId('primary-toggle').textContent()).resolves.toBe('Bring primary up');
    // The switch is really down: the primary's own health check fails.
    expect((await fetch(`${view.primary.url}/ping`)).status).toBe(503);

    const eventId = await ask('Who answers while the primary is down?');
    const chip = await answeredBy(eventId);
    const row = await ledgerRow(eventId);
    expect(row).toMatchObject({ model: view.fallback.modelId, modelSource: 'fallback' });
    expect(await chip.getAttribute('data-role')).toBe('backup');
    expect(await chip.getAttribute('data-model-id')).toBe(row.model);
    await expect(chip.textContent()).resolves.toBe(`answered by backup · ${row.model}`);
    await screenshot(page, resolve(SCREENSHOT_DIR, 'page-model-backup.png'));

    await page.getByTestId('primary-toggle').click();
    await primaryState().and(page.locator('[data-state="up"]')).waitFor({ timeout: 10_000 });
    expect((await models()).primary.state).toBe('up');
    expect((await fetch(`${view.primary.url}/ping`)).status).toBe(200);
    await expect(page.getByTestId('primary-down-note').count()).resolves.toBe(0);
    const back = await answeredBy(await ask('And who answers now that it is back?'));
    expect(await back.getAttribute('data-role')).toBe('primary');
  }, 60_000);

  it('follows a switch made elsewhere (curl, a test) without a reload', async () => {
    const res = await fetch(`${sandbox.url}/_sandbox/model/primary`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"state":"down"}',
    });
    expect(res.status).toBe(200);
    await primaryState().and(page.locator('[data-state="down"]')).waitFor({ timeout: 10_000 });
    await fetch(`${sandbox.url}/_sandbox/model/primary`, { method: 'POST', body: '{"state":"up"}' });
    await primaryState().and(page.locator('[data-state="up"]')).waitFor({ timeout: 10_000 });
  }, 30_000);
});
