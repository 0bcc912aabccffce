import { PLATFORMS } from '#platforms/types';
import { DEMO_MODEL_MAX_TOKENS } from '../../sandbox/model/demo-model';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';

interface Delivered {
  platform: string;
  chatId: string;
  text: string;
  at: string;
  /** Streamed replies: `streaming` while they grow, then `finished` or `failed`. */
  stream?: 'streaming' | 'finished' | 'failed';
}

let sandbox: SandboxProcess;

beforeAll(async () => {
  sandbox = await startSandboxProcess();
}, 90_000);

afterAll(async () => {
  await sandbox?.stop();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${sandbox.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function messages(platform: string, chat: string): Promise<Delivered[]> {
  const res = await fetch(`${sandbox.url}/_sandbox/messages?platform=${platform}&chat=${encodeURIComponent(chat)}`);
  return (await res.json()) as Delivered[];
}

/** Waits for `count` delivered replies; a streamed reply counts once it is finished (or failed), not while it grows. */
async function waitForMessages(platform: string, chat: string, count: number, ms = 20_000): Promise<Delivered[]> {
  const until = Date.now() + ms;
  for (;;) {
    const list = await messages(platform, chat);
    const settled = list.every((d) => d.stream !== 'streaming');
    if ((list.length >= count && settled) || Date.now() > until) return list;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until the pipeline has been idle long enough that a second (duplicate) reply would have arrived. */
const settle = () => new Promise((r) => setTimeout(r, 2_500));

describe.each(PLATFORMS)('%s through the sandbox', (platform) => {
  it('answers a signed @-mention exactly once, with a ledger row whose total is the sum of its parts', async () => {
    const chatId = `e2e-${platform}-${Date.now()}`;
    const sent = await post('/_sandbox/events', {
      platform,
      chatId,
      userId: 'alice',
      text: `你好 GroupGate 🙂 (${platform})`,
    });
    expect(sent.status).toBe(200);
    expect(sent.json.webhookStatus).toBe(200);
    const first = await waitForMessages(platform, chatId, 1);
    expect(first).toHaveLength(1);
    expect(first[0]?.text.length).toBeGreaterThan(0);
    await settle();
    expect(await messages(platform, chatId)).toHaveLength(1);

    const ledger = (await (
      await fetch(`${sandbox.url}/_sandbox/ledger?platform=${platform}&chat=${encodeURIComponent(chatId)}`)
    ).json()) as { totalUsd: number; components: Record<string, number>; eventId: string }[];
    expect(ledger).toHaveLength(1);
    const row = ledger[0]!;
    expect(row.eventId).toBe(sent.json.eventId);
    for (const c of ['apiGateway', 'lambda', 'sqs', 'dynamodb', 'logs', 'sagemaker'])
      expect(row.components[c]).toBeGreaterThan(0);
    const sum = Object.values(row.components).reduce((a, b) => a + b, 0);
    expect(row.totalUsd).toBeCloseTo(sum, 9);
  }, 40_000);

  it('serves a repeated context-free question from the FAQ cache only when the first answer was complete', async () => {
    // Letters only: a run of digits can be a Luhn-valid card number, which PII masking rightly keeps out of the cache.
    const question = `What are the office hours? ${platform}-${String(Date.now()).replace(/\d/g, (d) => 'abcdefghij'[Number(d)] ?? 'x')}`;
    const chatA = `e2e-cache-a-${platform}-${Date.now()}`;
    const chatB = `e2e-cache-b-${platform}-${Date.now()}`;
    await post('/_sandbox/events', { platform, chatId: chatA, userId: 'carol', text: question });
    const [first] = await waitForMessages(platform, chatA, 1);
    await settle();
    await post('/_sandbox/events', { platform, chatId: chatB, userId: 'dave', text: question });
    const [second] = await waitForMessages(platform, chatB, 1);
    const ledgerOf = async (chat: string) =>
      (await (
        await fetch(`${sandbox.url}/_sandbox/ledger?platform=${platform}&chat=${encodeURIComponent(chat)}`)
      ).json()) as { cached: boolean; tokens: { completion: number }; components: Record<string, number> }[];
    const [rowA] = await ledgerOf(chatA);
    const rows = await ledgerOf(chatB);
    expect(rows).toHaveLength(1);
    // Each delivery starts with an @-mention of its asker; the answer after it is the cached one.
    const withoutMention = (text: string | undefined) => text?.replace(/^\S*(carol|dave)\S*\s*/, '');
    expect(withoutMention(first?.text)?.length).toBeGreaterThan(0);
    // The demo network rarely emits end-of-sequence, so its answer usually runs to the demo model's token cap:
    // an answer cut short is never cached (issue 13), and the second member's question reaches the model again.
    if ((rowA?.tokens.completion ?? 0) >= DEMO_MODEL_MAX_TOKENS) {
      expect(rows[0]?.cached).toBe(false);
      expect(rows[0]?.components.sagemaker).toBeGreaterThan(0);
    } else if (rows[0]?.cached) {
      // A complete answer may still be uncacheable (noise can read as PII); when it was served, it is the same answer.
      expect(withoutMention(second?.text)).toBe(withoutMention(first?.text));
      expect(rows[0]?.components.sagemaker).toBe(0);
    }
  }, 60_000);

  it('refuses a forged event with 401 and never replies', async () => {
    const chatId = `e2e-forged-${platform}-${Date.now()}`;
    const res = await fetch(`${sandbox.url}/webhook/${platform}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-slack-signature': 'v0=00',
        'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000)),
        'x-lark-signature': '00',
        'x-lark-request-timestamp': String(Math.floor(Date.now() / 1000)),
        'x-lark-request-nonce': 'n',
        timestamp: String(Date.now()),
        sign: 'AAAA',
      },
      body: JSON.stringify({ encrypt: 'AAAA', chatId, text: 'forged' }),
    });
    expect([400, 401]).toContain(res.status);
    await settle();
    expect(await messages(platform, chatId)).toHaveLength(0);
  }, 20_000);

  it('replies once to an event the platform delivers twice', async () => {
    const chatId = `e2e-dup-${platform}-${Date.now()}`;
    const first = await post('/_sandbox/events', {
      platform,
      chatId,
      userId: 'bob',
      text: 'what is the on-call rota?',
    });
    const again = await post('/_sandbox/events', {
      platform,
      chatId,
      userId: 'bob',
      text: 'what is the on-call rota?',
      eventId: first.json.eventId,
    });
    expect(first.json.webhookStatus).toBe(200);
    expect(again.json.webhookStatus).toBe(200);
    expect(await waitForMessages(platform, chatId, 1)).toHaveLength(1);
    await settle();
    expect(await messages(platform, chatId)).toHaveLength(1);
  }, 40_000);
});
