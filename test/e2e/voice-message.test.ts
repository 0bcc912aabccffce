import type { GenerateParams } from '#local-model/engine';
import { createLocalTts } from '#voice/local-tts';
import { VOICE_NOTES } from '#voice/voice-turn';
import { createInstantEngine } from '../../sandbox/model/instant-engine';
import { type RunningModelServer, startModelServer } from '../../sandbox/model/model-server';
import { launchBrowser } from '../helpers/browser';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';

/**
 * A voice message through the whole sandbox (issue 20): espeak-ng speaks a question, `POST /_sandbox/events` shares it
 * in a Slack channel (the emulator's `app_mention` with an `audio/ogg` file), the webhook queues it, the worker
 * downloads it with the bot token, pocketsphinx transcribes it (`npm start` sets `VOICE_ASR=local`), and the model
 * receives the recognised words. The model is an external server (`MODEL_ENDPOINT_URL`) recording every request.
 * And the way back: the Feishu `sales` group opted in to spoken answers (`VOICE_REPLY_CHATS`), so espeak-ng speaks
 * its answers, posted as Feishu audio messages that the page plays under the reply; so did its Slack channel (a shared
 * `answer.ogg` in the reply's thread) and its DingTalk group (a robot `sampleAudio` voice message).
 */

interface Delivered {
  chatId: string;
  text: string;
  stream?: 'streaming' | 'finished' | 'failed';
}

let sandbox: SandboxProcess;
let model: RunningModelServer;
/** The last user message of every model request, in arrival order. */
const asked: string[] = [];

beforeAll(async () => {
  const instant = createInstantEngine();
  model = await startModelServer({
    engine: {
      ...instant,
      generate(params: GenerateParams) {
        asked.push(params.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '');
        return instant.generate(params);
      },
    },
  });
  sandbox = await startSandboxProcess({
    MODEL_ENDPOINT_URL: model.url,
    FALLBACK_MODEL: 'off',
    VOICE_REPLY_CHATS: 'feishu:sales,slack:sales,dingtalk:sales',
  });
}, 90_000);

afterAll(async () => {
  await sandbox?.stop();
  await model?.close();
});

const tts = createLocalTts({ maxChars: 200 });

async function postVoice(chatId: string, name: string, bytes: Uint8Array) {
  const res = await fetch(`${sandbox.url}/_sandbox/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      platform: 'slack',
      chatId,
      userId: 'alice',
      text: '',
      files: [{ name, contentBase64: Buffer.from(bytes).toString('base64') }],
    }),
  });
  return (await res.json()) as { webhookStatus?: number };
}

async function replies(chatId: string, ms = 60_000): Promise<Delivered[]> {
  const until = Date.now() + ms;
  for (;;) {
    const res = await fetch(`${sandbox.url}/_sandbox/messages?platform=slack&chat=${encodeURIComponent(chatId)}`);
    const list = (await res.json()) as Delivered[];
    if ((list.length > 0 && list.every((d) => d.stream !== 'streaming')) || Date.now() > until) return list;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('a voice message in the sandbox', () => {
  it('says at start-up that voice messages are transcribed on this machine', () => {
    expect(sandbox.output).toContain(
      'sandbox: voice: voice messages are transcribed on this machine (pocketsphinx, English)',
    );
  });

  it('reaches the model as its recognised words, and the reply shows them', async () => {
    const chatId = `C0VOICE${Date.now()}`;
    const spoken = await tts.synthesize('how many people work here', { language: 'en-US', format: 'ogg_opus' });
    const before = asked.length;
    expect(await postVoice(chatId, 'question.ogg', spoken.bytes)).toMatchObject({ webhookStatus: 200 });
    const [reply, ...more] = await replies(chatId);
    const questions = asked.slice(before);
    expect(questions).toHaveLength(1);
    expect(questions[0]?.split(' ')).toEqual(expect.arrayContaining(['many', 'people']));
    expect(reply?.text).toContain(`🎤 ${questions[0]}`);
    expect(reply?.text).toContain(`echo: ${questions[0]}`);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(more).toEqual([]);
    expect(await replies(chatId)).toHaveLength(1);
  }, 90_000);

  it('answers a damaged voice message with one clear reply and no model call', async () => {
    const chatId = `C0VOICEBAD${Date.now()}`;
    const spoken = await tts.synthesize('how many people work here', { language: 'en-US', format: 'ogg_opus' });
    const before = asked.length;
    await postVoice(chatId, 'question.ogg', spoken.bytes.subarray(0, 200));
    const list = await replies(chatId);
    expect(list).toHaveLength(1);
    expect(list[0]?.text).toContain(VOICE_NOTES.corrupt);
    expect(asked.length).toBe(before);
  }, 60_000);

  it('the page sends a chosen WAV as a voice message and shows the words it was answered from', async () => {
    const spoken = await tts.synthesize('how many people work here', { language: 'en-US', format: 'wav' });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(sandbox.url);
      await page.getByTestId('platform-tab-slack').click();
      await page.getByTestId('group-select').selectOption('sales');
      await page.getByTestId('member-select').selectOption('bob');
      await page.getByTestId('mention-toggle').setChecked(true);
      await page.getByTestId('message-file').setInputFiles({
        name: 'question.wav',
        mimeType: 'audio/wav',
        buffer: Buffer.from(spoken.bytes),
      });
      await expect(page.getByTestId('attached-file').textContent()).resolves.toContain('voice message');
      const before = asked.length;
      await page.getByTestId('send-button').click();
      await page.getByTestId('attached-file').waitFor({ state: 'hidden' });
      const shown = page.getByTestId('reply-text').filter({ hasText: '🎤' });
      await shown.first().waitFor({ timeout: 60_000 });
      const question = asked.slice(before).at(0) ?? '';
      expect(question.split(' ')).toEqual(expect.arrayContaining(['many', 'people']));
      await expect(shown.first().textContent()).resolves.toContain(`🎤 ${question}`);
    } finally {
      await browser.close();
    }
  }, 90_000);

  it('a group that opted in hears its answer: a Feishu audio message the page plays under the reply', async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(sandbox.url);
      await page.getByTestId('platform-tab-feishu').click();
      await page.getByTestId('group-select').selectOption('sales');
      await page.getByTestId('member-select').selectOption('carol');
      await page.getByTestId('mention-toggle').setChecked(true);
      const input = page.getByTestId('message-input');
      await input.fill('when is the team lunch');
      await input.press('Enter');
      const audio = page.getByTestId('reply-audio');
      await audio.first().waitFor({ state: 'attached', timeout: 60_000 });
      const src = (await audio.first().getAttribute('src')) ?? '';
      expect(src.startsWith('data:audio/ogg;base64,')).toBe(true);
      expect(Buffer.from(src.slice('data:audio/ogg;base64,'.length), 'base64').subarray(0, 4).toString()).toBe('OggS');
      const res = await fetch(`${sandbox.url}/_sandbox/messages?platform=feishu&chat=sales`);
      const list = (await res.json()) as (Delivered & { audio?: { durationMs: number } })[];
      const spoken = list.filter((d) => d.audio !== undefined);
      expect(spoken).toHaveLength(1);
      expect(spoken[0]?.audio?.durationMs).toBeGreaterThan(500);
      expect(list.filter((d) => d.audio === undefined && d.text.includes('echo: when is the team lunch'))).toHaveLength(
        1,
      );
    } finally {
      await browser.close();
    }
  }, 90_000);

  it.each([
    ['slack', 'Spoken answer'],
    ['dingtalk', '[语音]'],
  ])(
    'a %s group that opted in hears its answer too: the page plays it under the reply',
    async (platform, preview) => {
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        await page.goto(sandbox.url);
        await page.getByTestId(`platform-tab-${platform}`).click();
        await page.getByTestId('group-select').selectOption('sales');
        await page.getByTestId('member-select').selectOption('carol');
        await page.getByTestId('mention-toggle').setChecked(true);
        const input = page.getByTestId('message-input');
        await input.fill(`where do we park on ${platform}`);
        await input.press('Enter');
        const audio = page.getByTestId('reply-audio');
        await audio.first().waitFor({ state: 'attached', timeout: 60_000 });
        const src = (await audio.first().getAttribute('src')) ?? '';
        expect(Buffer.from(src.slice('data:audio/ogg;base64,'.length), 'base64').subarray(0, 4).toString()).toBe(
          'OggS',
        );
        const res = await fetch(`${sandbox.url}/_sandbox/messages?platform=${platform}&chat=sales`);
        const list = (await res.json()) as (Delivered & { audio?: { durationMs: number } })[];
        const spoken = list.filter((d) => d.audio !== undefined);
        expect(spoken).toHaveLength(1);
        expect(spoken[0]?.text).toBe(preview);
        expect(spoken[0]?.audio?.durationMs).toBeGreaterThan(500);
      } finally {
        await browser.close();
      }
    },
    90_000,
  );
});
