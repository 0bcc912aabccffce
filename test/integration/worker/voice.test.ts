import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { spokenText } from '#composition/voice-step';
import type { QueuedEvent } from '#core/queue-message';
import { DINGTALK_VOICE_MAX_SECONDS } from '#platforms/dingtalk/upload-audio';
import { SLACK_SPEECH_TITLE } from '#platforms/slack/upload-audio';
import { createLocalTts } from '#voice/local-tts';
import type { SpeechFormat, SynthesizedAudio } from '#voice/ports';
import { VoiceError } from '#voice/voice-error';
import { VOICE_NOTES } from '#voice/voice-turn';
import { writeWav } from '#voice/wav';
import { DINGTALK_AUDIO_PREVIEW } from '../../../sandbox/platform-emulator/dingtalk';
import { SLACK_UPLOAD_LIMIT_BYTES } from '../../../sandbox/platform-emulator/slack';
import { type Rig, recordOf, SPOKEN_CHAT, startRig, uniqueChat } from './harness';

/**
 * Voice messages end to end (issue 20): espeak-ng speaks a question, the platform emulator shares it as the
 * platform's own voice message (Slack an `audio/*` file, Feishu an `audio` message), the real webhook queues it, and
 * the worker downloads it through the adapter, transcribes it with pocketsphinx (the sandbox's engines; .ci/run
 * installs them) and answers the recognised words. Asserted: what the model was sent, what the member received, the
 * ledger row's ASR seconds, and one clear reply (no model call) for audio that cannot be understood.
 */
// Real engine processes on a loaded 2-core machine: pocketsphinx alone can take several seconds.
jest.setTimeout(90_000);

let rig: Rig;

beforeAll(async () => {
  rig = await startRig({ voice: true });
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

afterEach(() => {
  rig.capture = undefined;
});

const tts = createLocalTts({ maxChars: 200 });
const speak = (text: string, format: SpeechFormat): Promise<SynthesizedAudio> =>
  tts.synthesize(text, { language: 'en-US', format });

async function ledgerRowsOf(chatId: string) {
  const out = await rig.aws.clients.doc.send(new ScanCommand({ TableName: rig.aws.tables.ledger }));
  return (out.Items ?? []).filter((i) => i.chatId === chatId);
}

/** The user message of the model request that carried `word` (the prompt ends with the question). */
function questionsSent(): string[] {
  return rig.prompts.map((prompt) => prompt.filter((m) => m.role === 'user').at(-1)?.content ?? '');
}

describe('worker voice step', () => {
  it('answers a Slack audio clip from its recognised words, shows them, and bills the ASR seconds', async () => {
    const chatId = uniqueChat('voice-slack');
    const spoken = await speak('how many people work here', 'ogg_opus');
    const before = rig.prompts.length;
    const eventId = await rig.say('slack', {
      chatId,
      userId: 'alice',
      text: '',
      files: [{ name: 'question.ogg', bytes: Buffer.from(spoken.bytes) }],
    });
    const [reply, ...more] = await rig.waitFor(1, (d) => d.chatId === chatId, 60_000);
    await rig.waitForReplied('slack', eventId, 30_000);
    expect(more).toEqual([]);
    const asked = questionsSent().slice(before);
    expect(asked).toHaveLength(1);
    // espeak-ng's formant voice through the general model: only the words that come back on every run.
    expect(asked[0]?.split(' ')).toEqual(expect.arrayContaining(['many', 'people']));
    // The reply opens with what was heard, then the (echo) model's answer to exactly that.
    expect(reply?.text).toContain(`🎤 ${asked[0]}`);
    expect(reply?.text).toContain(`answer to: ${asked[0]}`);
    const [row, ...others] = await ledgerRowsOf(chatId);
    expect(others).toEqual([]);
    expect(row?.source).toBe('model');
    expect(row?.usage.voice).toEqual({ asr: { engine: 'local', seconds: expect.any(Number) } });
    expect(row?.usage.voice.asr.seconds).toBeCloseTo(spoken.durationSeconds, 1);
  });

  it('answers a Feishu voice message (an `audio` message downloaded through the resource API)', async () => {
    const chatId = uniqueChat('voice-feishu');
    const spoken = await speak('how many people work here', 'wav');
    const before = rig.prompts.length;
    const captured: QueuedEvent[] = [];
    rig.capture = captured;
    await rig.say('feishu', {
      chatId,
      userId: 'ou_bob',
      text: '',
      direct: true,
      files: [{ name: 'voice.wav', bytes: Buffer.from(spoken.bytes) }],
    });
    rig.capture = undefined;
    const [event] = captured;
    if (!event) throw new Error('nothing enqueued');
    expect(event.text).toBe('');
    expect(event.message.attachments).toEqual([expect.objectContaining({ kind: 'audio', name: 'voice message' })]);
    await rig.runtime()(recordOf(event, 'voice-feishu-1'));
    const replies = await rig.waitFor(1, (d) => d.chatId === chatId);
    expect(replies).toHaveLength(1);
    const asked = questionsSent().slice(before);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.split(' ')).toEqual(expect.arrayContaining(['many', 'people']));
    expect(replies[0]?.text).toContain(`answer to: ${asked[0]}`);
  });

  it('answers a DingTalk voice message without recognition text: the audio is downloaded and transcribed', async () => {
    const chatId = uniqueChat('voice-dingtalk');
    // Another question than the Slack clip's: the same words would be answered from the FAQ cache, without the model.
    const spoken = await speak('what is the capital of france', 'ogg_opus');
    const before = rig.prompts.length;
    const captured: QueuedEvent[] = [];
    rig.capture = captured;
    await rig.say('dingtalk', {
      chatId,
      userId: 'hana',
      text: '',
      direct: true,
      files: [{ name: 'voice.ogg', bytes: Buffer.from(spoken.bytes) }],
    });
    rig.capture = undefined;
    const [event] = captured;
    if (!event) throw new Error('nothing enqueued');
    expect(event.text).toBe('');
    expect(event.message.attachments).toEqual([expect.objectContaining({ kind: 'audio', name: 'voice message' })]);
    await expect(rig.runtime()(recordOf(event, 'voice-dingtalk-1'))).resolves.toMatchObject({ kind: 'replied' });
    const replies = await rig.waitFor(1, (d) => d.chatId === chatId);
    expect(replies).toHaveLength(1);
    const asked = questionsSent().slice(before);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.split(' ')).toEqual(expect.arrayContaining(['what', 'is']));
    expect(replies[0]?.text).toContain(`🎤 ${asked[0]}`);
    const [row] = await ledgerRowsOf(chatId);
    expect(row?.usage.voice?.asr?.seconds).toBeCloseTo(spoken.durationSeconds, 1);
  });

  it('a DingTalk voice message in a codec no engine decodes (AMR) gets the unsupported-codec note', async () => {
    const chatId = uniqueChat('voice-dingtalk-amr');
    const before = rig.prompts.length;
    const eventId = await rig.say('dingtalk', {
      chatId,
      userId: 'ivan',
      text: '',
      direct: true,
      files: [{ name: 'voice.amr', bytes: Buffer.from('#!AMR\n\u0004\u0000\u0000\u0000', 'latin1') }],
    });
    await rig.waitForReplied('dingtalk', eventId, 60_000);
    const replies = rig.deliveries.filter((d) => d.chatId === chatId);
    expect(replies).toHaveLength(1);
    expect(replies[0]?.text).toContain(VOICE_NOTES.unsupported_codec('AMR audio is not supported'));
    expect(rig.prompts.length).toBe(before);
  });

  it('a worker that dies after transcribing: the redelivery transcribes again and replies once', async () => {
    const chatId = uniqueChat('voice-crash');
    const spoken = await speak('how many people work here', 'ogg_opus');
    const captured: QueuedEvent[] = [];
    rig.capture = captured;
    await rig.say('slack', {
      chatId,
      userId: 'erin',
      text: '',
      files: [{ name: 'question.ogg', bytes: Buffer.from(spoken.bytes) }],
    });
    rig.capture = undefined;
    const [event] = captured;
    if (!event) throw new Error('nothing enqueued');
    const dying = rig.runtime({
      checkpoint: (step) => {
        if (step === 'answered') throw new Error('injected crash after the answer');
      },
    });
    await expect(dying(recordOf(event, 'voice-crash-1'))).rejects.toThrow('injected crash');
    // The crashed attempt released its claim (markFailed): the redelivery may claim at once.
    await expect(rig.runtime()(recordOf(event, 'voice-crash-1', 2))).resolves.toMatchObject({ kind: 'replied' });
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);
    // The dead attempt wrote no records (it died before them, as it would after a model call): one row, with ASR.
    const rows = await ledgerRowsOf(chatId);
    expect(rows.map((row) => row.usage.voice?.asr?.engine)).toEqual(['local']);
  });

  it.each([
    [
      'a damaged clip',
      'broken.ogg',
      async () => (await speak('how many people work here', 'ogg_opus')).bytes.subarray(0, 200),
      VOICE_NOTES.corrupt,
    ],
    [
      'a clip over VOICE_MAX_SECONDS',
      'long.wav',
      async () => writeWav({ sampleRate: 16_000, channels: 1, samples: new Int16Array(16_000 * 12) }),
      VOICE_NOTES.too_long('12', 10),
    ],
    [
      'a codec no engine takes',
      'voice.mp3',
      async () => new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0, 0, 0]),
      VOICE_NOTES.unsupported_codec('MP3 audio is not supported'),
    ],
    [
      'silence',
      'quiet.wav',
      async () => writeWav({ sampleRate: 16_000, channels: 1, samples: new Int16Array(16_000) }),
      VOICE_NOTES.silence,
    ],
  ])('answers %s with one note and no model call', async (_label, name, bytes, note) => {
    const chatId = uniqueChat('voice-bad');
    const before = rig.prompts.length;
    const eventId = await rig.say('slack', {
      chatId,
      userId: 'carol',
      text: '',
      files: [{ name, bytes: Buffer.from(await bytes()) }],
    });
    await rig.waitForReplied('slack', eventId, 60_000);
    const replies = rig.deliveries.filter((d) => d.chatId === chatId);
    expect(replies).toHaveLength(1);
    expect(replies[0]?.text).toContain(note);
    expect(rig.prompts.length).toBe(before);
    const [row] = await ledgerRowsOf(chatId);
    expect(row?.source).toBe('voice_note');
  });

  it('tells the member voice is off when no recogniser is configured, and answers typed text with audio as usual', async () => {
    const chatId = uniqueChat('voice-off');
    const spoken = await speak('how many people work here', 'ogg_opus');
    const captured: QueuedEvent[] = [];
    rig.capture = captured;
    const files = [{ name: 'question.ogg', bytes: Buffer.from(spoken.bytes) }];
    await rig.say('slack', { chatId, userId: 'dave', text: '', files });
    await rig.say('slack', { chatId, userId: 'dave', text: 'what is this recording', files });
    rig.capture = undefined;
    const [voiceOnly, typed] = captured;
    if (!voiceOnly || !typed) throw new Error('nothing enqueued');
    const off = rig.runtime({ voice: {} });
    const before = rig.prompts.length;
    await off(recordOf(voiceOnly, 'voice-off-1'));
    await off(recordOf(typed, 'voice-off-2'));
    const replies = await rig.waitFor(2, (d) => d.chatId === chatId);
    expect(replies[0]?.text).toContain(VOICE_NOTES.off);
    // Typed text is the question; its audio is not transcribed (no engine ran) and not echoed.
    expect(replies[1]?.text).toContain('answer to: what is this recording');
    expect(replies[1]?.text).not.toContain('🎤');
    expect(questionsSent().slice(before)).toEqual(['what is this recording']);
  });
});

describe('spoken answers (VOICE_REPLY_CHATS)', () => {
  it('a Feishu chat that opted in gets the answer as an audio message after its text, billed by characters', async () => {
    const eventId = await rig.say('feishu', { chatId: SPOKEN_CHAT, userId: 'ou_frank', text: 'what time is lunch' });
    const [text, audio, ...more] = await rig.waitFor(2, (d) => d.chatId === SPOKEN_CHAT && d.platform === 'feishu');
    await rig.waitForReplied('feishu', eventId);
    expect(more).toEqual([]);
    expect(text?.text).toContain('answer to: what time is lunch');
    expect(audio?.text).toBe('[语音]');
    expect(audio?.replyTo).toBe(text?.replyTo);
    const bytes = Buffer.from(audio?.audio?.data ?? '', 'base64');
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('OggS');
    expect(audio?.audio?.durationMs).toBeGreaterThan(500);
    const rows = (await ledgerRowsOf(SPOKEN_CHAT)).filter((r) => r.platform === 'feishu');
    expect(rows).toHaveLength(1);
    const answer = `answer to: ${questionsSent().at(-1)}`;
    expect(rows[0]?.usage.voice).toEqual({
      tts: { engine: 'local', characters: Array.from(spokenText(answer, 1000)).length },
    });
  });

  it('a Slack chat that opted in gets the answer as an Ogg file in the reply thread, after its text', async () => {
    const eventId = await rig.say('slack', { chatId: SPOKEN_CHAT, userId: 'frank', text: 'when does the bus leave' });
    const [text, audio, ...more] = await rig.waitFor(2, (d) => d.chatId === SPOKEN_CHAT && d.platform === 'slack');
    await rig.waitForReplied('slack', eventId);
    expect(more).toEqual([]);
    expect(text?.text).toContain('answer to: when does the bus leave');
    expect(audio?.text).toBe(SLACK_SPEECH_TITLE);
    expect(audio?.threadId).toBe(text?.threadId);
    const bytes = Buffer.from(audio?.audio?.data ?? '', 'base64');
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('OggS');
    expect(audio?.audio?.durationMs).toBeGreaterThan(500);
    const rows = (await ledgerRowsOf(SPOKEN_CHAT)).filter((r) => r.platform === 'slack');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.usage.voice).toEqual({
      tts: { engine: 'local', characters: Array.from(spokenText(`answer to: ${questionsSent().at(-1)}`, 1000)).length },
    });
  });

  it('a DingTalk group that opted in gets the answer as a robot voice message after its text', async () => {
    const eventId = await rig.say('dingtalk', { chatId: SPOKEN_CHAT, userId: 'gus', text: 'where is the printer' });
    const [text, audio, ...more] = await rig.waitFor(2, (d) => d.chatId === SPOKEN_CHAT && d.platform === 'dingtalk');
    await rig.waitForReplied('dingtalk', eventId);
    expect(more).toEqual([]);
    expect(text?.text).toContain('answer to: where is the printer');
    expect(audio?.text).toBe(DINGTALK_AUDIO_PREVIEW);
    const bytes = Buffer.from(audio?.audio?.data ?? '', 'base64');
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('OggS');
    // `duration` as the adapter declared it: the synthesised clip's length in ms.
    expect(audio?.audio?.durationMs).toBeGreaterThan(500);
    const rows = (await ledgerRowsOf(SPOKEN_CHAT)).filter((r) => r.platform === 'dingtalk');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.usage.voice).toEqual({
      tts: { engine: 'local', characters: Array.from(spokenText(`answer to: ${questionsSent().at(-1)}`, 1000)).length },
    });
  });

  it('other chats, and WeCom (no spoken answers), get the text alone', async () => {
    const chatId = uniqueChat('voice-unspoken');
    const other = await rig.say('feishu', { chatId, userId: 'ou_frank', text: 'what time is lunch' });
    const wecom = await rig.say('wecom', { chatId: SPOKEN_CHAT, userId: 'frank', text: 'what time is lunch' });
    await rig.waitForReplied('feishu', other);
    await rig.waitForReplied('wecom', wecom);
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);
    expect(rig.deliveries.filter((d) => d.chatId === SPOKEN_CHAT && d.platform === 'wecom')).toHaveLength(1);
    const rows = [...(await ledgerRowsOf(chatId)), ...(await ledgerRowsOf(SPOKEN_CHAT))].filter(
      (r) => r.chatId === chatId || r.platform === 'wecom',
    );
    expect(rows.map((r) => r.usage.voice)).toEqual([undefined, undefined]);
  });

  it.each([
    ['a synthesis that fails', () => Promise.reject(new VoiceError('unavailable', 'espeak-ng is not installed'))],
    // Not Ogg: the platform refuses the upload (Feishu's 234001), after the text is out.
    [
      'an upload the platform refuses',
      async () => ({ bytes: new Uint8Array([1, 2, 3, 4]), mediaType: 'audio/ogg', durationSeconds: 1, characters: 9 }),
    ],
  ] as const)('%s never affects the text: one reply, no audio', async (label, synthesize) => {
    const captured: QueuedEvent[] = [];
    rig.capture = captured;
    await rig.say('feishu', { chatId: SPOKEN_CHAT, userId: 'ou_gina', text: 'is the office open' });
    rig.capture = undefined;
    const [event] = captured;
    if (!event) throw new Error('nothing enqueued');
    const before = rig.deliveries.length;
    const broken = rig.runtime({ voice: { tts: { engine: 'local', synthesize } } });
    await expect(broken(recordOf(event, `voice-tts-${label}`))).resolves.toMatchObject({ kind: 'replied' });
    const after = rig.deliveries.slice(before);
    expect(after).toHaveLength(1);
    expect(after[0]?.text).toContain('answer to: is the office open');
    expect(after[0]?.audio).toBeUndefined();
  });

  /** A clip the synthesis "produced": real Ogg/Opus bytes, with the length and size the case needs. */
  const clip = (bytes: Uint8Array, durationSeconds: number) => async () => ({
    bytes,
    mediaType: 'audio/ogg',
    durationSeconds,
    characters: 21,
  });

  it.each([
    // Over the emulated workspace's upload limit: Slack answers `file_upload_size_restricted`.
    ['slack', 'an oversize file Slack refuses', async () => clip(new Uint8Array(SLACK_UPLOAD_LIMIT_BYTES + 1), 5)],
    // DingTalk plays voice messages of at most 60 s: refused by the adapter before any upload.
    [
      'dingtalk',
      'a clip longer than DingTalk plays',
      async () => clip((await speak('where is the printer', 'ogg_opus')).bytes, DINGTALK_VOICE_MAX_SECONDS + 1),
    ],
    // Not Ogg: DingTalk's media/upload refuses the file (errcode 40005).
    ['dingtalk', 'a file DingTalk refuses', async () => clip(new Uint8Array([1, 2, 3, 4]), 1)],
  ] as const)('%s: %s leaves the text, once, and the row still bills the synthesis', async (platform, _label, make) => {
    const synthesize = await make();
    const captured: QueuedEvent[] = [];
    rig.capture = captured;
    await rig.say(platform, { chatId: SPOKEN_CHAT, userId: 'hal', text: 'is the office open' });
    rig.capture = undefined;
    const [event] = captured;
    if (!event) throw new Error('nothing enqueued');
    const before = rig.deliveries.length;
    const rowsBefore = (await ledgerRowsOf(SPOKEN_CHAT)).length;
    const broken = rig.runtime({ voice: { tts: { engine: 'local', synthesize } } });
    await expect(broken(recordOf(event, `voice-refused-${platform}-${_label}`))).resolves.toMatchObject({
      kind: 'replied',
    });
    const after = rig.deliveries.slice(before);
    expect(after).toHaveLength(1);
    expect(after[0]?.text).toContain('answer to: is the office open');
    expect(after[0]?.audio).toBeUndefined();
    const rows = await ledgerRowsOf(SPOKEN_CHAT);
    expect(rows).toHaveLength(rowsBefore + 1);
    const row = rows.find((r) => r.eventId === event.message.eventId);
    expect(row?.usage.voice).toEqual({ tts: { engine: 'local', characters: 21 } });
  });
});
