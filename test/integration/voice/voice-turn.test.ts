import { AttachmentError } from '#platforms/shared/download';
import { createLocalAsr } from '#voice/local-asr';
import { createLocalTts } from '#voice/local-tts';
import type { SpeechToText } from '#voice/ports';
import { maxVoiceBytes, transcribeVoiceMessage, VOICE_NOTES } from '#voice/voice-turn';
import { writeWav } from '#voice/wav';

/** The worker's voice step with the sandbox's real engines (pocketsphinx, espeak-ng; .ci/run installs them). */
// Each case runs real engine processes; on a loaded 2-core machine pocketsphinx alone can take several seconds.
jest.setTimeout(60_000);

const options = (asr?: SpeechToText) => ({
  ...(asr ? { asr } : {}),
  maxSeconds: 10,
  languages: ['en-US'] as const,
  deadline: Date.now() + 60_000,
  now: Date.now,
});
const source = (bytes: Uint8Array, mediaType = 'audio/ogg') => ({
  name: 'voice message',
  mediaType,
  download: async ({ maxBytes }: { maxBytes: number }) => {
    if (bytes.length > maxBytes) throw new AttachmentError('too_large', 'voice message is too large');
    return bytes;
  },
});

describe('transcribeVoiceMessage', () => {
  const asr = createLocalAsr({ maxSeconds: 10 });

  it('turns a spoken question into the member text, with what the ledger bills', async () => {
    const spoken = await createLocalTts({ maxChars: 200 }).synthesize('how many people work here', {
      language: 'en-US',
      format: 'ogg_opus',
    });
    const turn = await transcribeVoiceMessage(source(spoken.bytes), options(asr));
    expect(turn.kind).toBe('text');
    if (turn.kind !== 'text') return;
    expect(turn.text.split(' ')).toEqual(expect.arrayContaining(['many', 'people']));
    expect(turn.language).toBe('en-US');
    expect(turn.usage.engine).toBe('local');
    expect(turn.usage.seconds).toBeCloseTo(spoken.durationSeconds, 1);
  });

  it('answers with a note, never silently, when voice is off, silent, too long, damaged or not audio', async () => {
    const silence = writeWav({ sampleRate: 16_000, channels: 1, samples: new Int16Array(16_000) });
    const long = writeWav({ sampleRate: 16_000, channels: 1, samples: new Int16Array(16_000 * 12) });
    const off = await transcribeVoiceMessage(source(silence), options());
    expect(off).toEqual({ kind: 'note', note: VOICE_NOTES.off, code: 'off' });
    const quiet = await transcribeVoiceMessage(source(silence, 'audio/wav'), options(asr));
    expect(quiet).toMatchObject({
      kind: 'note',
      note: VOICE_NOTES.silence,
      code: 'silence',
      usage: { engine: 'local', seconds: 1 },
    });
    const tooLong = await transcribeVoiceMessage(source(long, 'audio/wav'), options(asr));
    expect(tooLong).toEqual({ kind: 'note', note: VOICE_NOTES.too_long('12', 10), code: 'too_long' });
    const damaged = await transcribeVoiceMessage(source(silence.subarray(0, 30), 'audio/wav'), options(asr));
    expect(damaged).toEqual({ kind: 'note', note: VOICE_NOTES.corrupt, code: 'corrupt' });
    const mp3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0]);
    const wrong = await transcribeVoiceMessage(source(mp3, 'audio/mpeg'), options(asr));
    expect(wrong).toEqual({
      kind: 'note',
      note: VOICE_NOTES.unsupported_codec('MP3 audio is not supported'),
      code: 'unsupported_codec',
    });
  });

  it('tells the member when the download fails, in the adapter words, and caps what it downloads', async () => {
    const big = new Uint8Array(maxVoiceBytes(10) + 1);
    const failed = await transcribeVoiceMessage(source(big), options(asr));
    expect(failed).toEqual({
      kind: 'note',
      note: VOICE_NOTES.unavailable('voice message is too large'),
      code: 'download',
    });
    const broken = await transcribeVoiceMessage(
      { name: 'voice.ogg', download: () => Promise.reject(new Error('socket hang up, token=secret')) },
      options(asr),
    );
    expect(broken).toMatchObject({ code: 'download' });
    expect(broken.kind === 'note' && broken.note).not.toContain('secret');
  });

  it('tells the member what to install when the sandbox lacks the engine', async () => {
    const missing: SpeechToText = {
      engine: 'local',
      transcribe: () =>
        import('#voice/tool-process').then(({ runTool }) =>
          runTool({
            command: 'groupgate-missing-asr',
            args: [],
            timeoutMs: 1000,
            maxOutputBytes: 10,
            installHint: 'apt-get install pocketsphinx',
          }).then(() => ({ text: '', durationSeconds: 0 })),
        ),
    };
    const turn = await transcribeVoiceMessage(source(new Uint8Array(10)), options(missing));
    expect(turn).toEqual({
      kind: 'note',
      note: VOICE_NOTES.unavailable(
        'voice is not available in this sandbox: install groupgate-missing-asr (apt-get install pocketsphinx)',
      ),
      code: 'unavailable',
    });
  });
});
