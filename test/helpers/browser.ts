import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

/** The system Chromium (Debian package `chromium`); playwright-core downloads no browsers of its own. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a headless, offline, root-friendly Chromium that never phones home. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LaunchOptions {
  /** More Chromium flags, after the defaults (e.g. the fake microphone's: `fakeMicrophoneArgs`). */
  readonly args?: readonly string[];
}

/**
 * Flags for a microphone that plays `wav` (16-bit PCM WAV; Chromium loops it): getUserMedia is granted without a
 * prompt unless `prompt` is set, in which case headless Chromium refuses it, as a member clicking "Block" would.
 */
export function fakeMicrophoneArgs(wav: string, options: { prompt?: boolean } = {}): string[] {
  return [
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}`,
    ...(options.prompt ? [] : ['--use-fake-ui-for-media-stream']),
  ];
}

/** Launches headless Chromium. Always `close()` the browser (afterAll/finally). */
export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}; install it with: apt-get update && apt-get install -y chromium`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...(options.args ?? [])] });
}

export interface ChatStep {
  readonly platform: string;
  /** Group (chat id) as listed by `/_sandbox/info`. */
  readonly group: string;
  readonly member: string;
  readonly text: string;
  /** How long to wait for the bot's reply. @default 30000 */
  readonly timeoutMs?: number;
}

export interface ChatResult {
  /** The reply as the page shows it (platform mention markup rendered as `@name`). */
  readonly replyText: string;
  /** The platform event id `POST /_sandbox/events` assigned to the member's message. */
  readonly eventId: string;
}

/** How long, after a new reply shows up, to wait for its ledger row to pair it with this step's question. */
const PAIRING_GRACE_MS = 3000;

/**
 * Drives the sandbox chat page like a person: opens it (once), clicks the platform tab, picks group and member,
 * types and presses Enter, then waits for a NEW bot reply bubble. Prefers the reply the page pairs with this
 * message's event id (through the ledger row); if pairing does not arrive within a short grace, returns the first
 * new reply. Throws with the page's own error text when the webhook did not answer 200.
 */
export async function chatInBrowser(page: Page, baseUrl: string, step: ChatStep): Promise<ChatResult> {
  const timeout = step.timeoutMs ?? 30_000;
  const origin = new URL(baseUrl).origin;
  if (!page.url().startsWith(origin)) await page.goto(`${origin}/`);

  await page.getByTestId(`platform-tab-${step.platform}`).click();
  await page.getByTestId('group-select').selectOption(step.group);
  await page.getByTestId('member-select').selectOption(step.member);
  await page.getByTestId('mention-toggle').setChecked(true);

  const bots = page.getByTestId('bot-message');
  const repliesBefore = await bots.count();
  const members = page.getByTestId('member-message');
  const membersBefore = await members.count();

  const input = page.getByTestId('message-input');
  await input.fill(step.text);
  await input.press('Enter');

  const sent = members.nth(membersBefore);
  await sent.and(page.locator('[data-status="sent"], [data-status="failed"]')).waitFor({ timeout });
  if ((await sent.getAttribute('data-status')) === 'failed') {
    throw new Error(`The page could not deliver "${step.text}": ${await page.getByTestId('send-error').textContent()}`);
  }
  const eventId = (await sent.getAttribute('data-event-id')) ?? '';

  await bots.nth(repliesBefore).waitFor({ timeout });
  const paired = page.locator(`[data-testid="bot-message"][data-answers-event="${cssString(eventId)}"]`);
  const reply = await paired
    .first()
    .waitFor({ timeout: PAIRING_GRACE_MS })
    .then(() => paired.first())
    .catch(() => bots.nth(repliesBefore));
  // textContent, not innerText: the reply is shown with `white-space: pre-wrap`, so both read the same characters.
  return { replyText: (await reply.getByTestId('reply-text').textContent()) ?? '', eventId };
}

/** Full-page PNG, for a person (or a reviewer) to look at. */
export async function screenshot(page: Page, path: string): Promise<void> {
  await page.screenshot({ path, fullPage: true, animations: 'disabled' });
}

function cssString(value: string): string {
  return value.replace(/["\\]/g, '\\$&');
}
