import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createLocalAsr, POCKETSPHINX_MODEL_DIR } from '#voice/local-asr';
import { createLocalTts } from '#voice/local-tts';
import { readOggInfo } from '#voice/ogg';
import { runTool } from '#voice/tool-process';
import { VoiceError } from '#voice/voice-error';
import { readWavInfo, writeWav } from '#voice/wav';

/**
 * The sandbox's real voice engines, as Debian packages them (.ci/run installs them). A machine without them fails
 * here, saying what to install: these tests are never skipped.
 */
// Each case runs real engine processes; on a loaded 2-core machine pocketsphinx alone can take several seconds.
jest.setTimeout(60_000);

const TOOLS = ['espeak-ng', 'pocketsphinx_continuous', 'opusenc', 'opusdec'];
const INSTALL = 'apt-get install -y espeak-ng pocketsphinx pocketsphinx-en-us opus-tools';

beforeAll(() => {
  const missing = TOOLS.filter((tool) => {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (!existsSync(`${POCKETSPHINX_MODEL_DIR}/en-us.lm.bin`)) missing.push('pocketsphinx-en-us model');
  if (missing.length > 0) throw new Error(`voice engines missing: ${missing.join(', ')}. Install them: ${INSTALL}`);
});

const signal = () => new AbortController().signal;

async function voiceError(promise: Promise<unknown>): Promise<VoiceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof VoiceError)) throw new Error(`expected a VoiceError, got ${String(err)}`);
  return err;
}

describe('espeak-ng speaks, pocketsphinx hears', () => {
  const asr = createLocalAsr({ maxSeconds: 60 });

  // espeak-ng's formant voice is far from the speech pocketsphinx's model was trained on: most words come back
  // wrong, but these come back the same on every run (both tools are deterministic), measured on Debian 12's packages.
  it.each([
    ['how many people work here', ['many', 'people']],
    ['what is the capital of france', ['what', 'is']],
  ])('recognises words of "%s" from a 22,050 Hz WAV resampled to 16 kHz', async (sentence, words) => {
    const spoken = await createLocalTts({ maxChars: 200 }).synthesize(sentence, { language: 'en-US', format: 'wav' });
    expect(spoken.mediaType).toBe('audio/wav');
    expect(readWavInfo(spoken.bytes).sampleRate).toBe(22_050);
    const transcript = await asr.transcribe(spoken, { language: 'en-US', signal: signal() });
    expect(transcript.language).toBe('en-US');
    expect(transcript.durationSeconds).toBeCloseTo(spoken.durationSeconds, 2);
    expect(transcript.text.split(' ')).toEqual(expect.arrayContaining(words));
  });

  it('recognises Ogg/Opus (the format Feishu audio messages use), decoded by opusdec', async () => {
    const spoken = await createLocalTts({ maxChars: 200 }).synthesize('how many people work here', {
      language: 'en-US',
      format: 'ogg_opus',
    });
    expect(spoken.mediaType).toBe('audio/ogg');
    expect(readOggInfo(spoken.bytes).codec).toBe('opus');
    expect(spoken.durationSeconds).toBeGreaterThan(1);
    const transcript = await asr.transcribe(spoken, { signal: signal() });
    expect(transcript.text.split(' ')).toEqual(expect.arrayContaining(['many', 'people']));
  });

  it('speaks Mandarin with the cmn voice', async () => {
    const spoken = await createLocalTts({ maxChars: 200 }).synthesize('你好，今天天气很好', {
      language: 'zh-CN',
      format: 'wav',
    });
    expect(spoken.characters).toBe(9);
    // Nine syllables: espeak-ng's default rate takes 3–4 s for them.
    expect(spoken.durationSeconds).toBeGreaterThan(2);
    expect(spoken.durationSeconds).toBeLessThan(6);
  });

  it('speaks a long Mandarin answer whole (about 0.35 s a character), within the output cap', async () => {
    const text = '今天天气很好我们去公园散步吧'.repeat(15).slice(0, 200);
    const spoken = await createLocalTts({ maxChars: 200 }).synthesize(text, { language: 'zh-CN', format: 'ogg_opus' });
    expect(spoken.characters).toBe(200);
    expect(spoken.durationSeconds).toBeGreaterThan(40);
  });
});

describe('bad input gets a typed error', () => {
  const asr = createLocalAsr({ maxSeconds: 5 });

  it('caps the duration from the header before decoding anything', async () => {
    const long = writeWav({ sampleRate: 16_000, channels: 1, samples: new Int16Array(16_000 * 6) });
    const err = await voiceError(asr.transcribe({ bytes: long, mediaType: 'audio/wav' }, { signal: signal() }));
    expect(err.code).toBe('too_long');
    expect(err.message).toBe('the voice message is 6 s long; the limit is 5 s');
  });

  it('rejects a corrupt WAV, an unsupported codec and a language the local model lacks', async () => {
    const good = writeWav({ sampleRate: 16_000, channels: 1, samples: new Int16Array(1600) });
    const corrupt = good.slice(0, 20);
    expect(
      (await voiceError(asr.transcribe({ bytes: corrupt, mediaType: 'audio/wav' }, { signal: signal() }))).code,
    ).toBe('corrupt');
    const mp3 = new Uint8Array([0xff, 0xfb, 0x90, 0x64, ...new Uint8Array(100)]);
    expect((await voiceError(asr.transcribe({ bytes: mp3, mediaType: 'audio/mpeg' }, { signal: signal() }))).code).toBe(
      'unsupported_codec',
    );
    const zh = await voiceError(
      asr.transcribe({ bytes: good, mediaType: 'audio/wav' }, { language: 'zh-CN', signal: signal() }),
    );
    expect(zh.code).toBe('unavailable');
  });

  it('refuses text over the speech cap and empty text', async () => {
    const tts = createLocalTts({ maxChars: 10 });
    expect((await voiceError(tts.synthesize('eleven char', { language: 'en-US', format: 'wav' }))).code).toBe(
      'too_long',
    );
    expect((await voiceError(tts.synthesize('', { language: 'en-US', format: 'wav' }))).code).toBe('corrupt');
  });

  it('reads text that looks like an option as text, from stdin', async () => {
    const spoken = await createLocalTts({ maxChars: 50 }).synthesize('--version', { language: 'en-US', format: 'wav' });
    expect(spoken.durationSeconds).toBeGreaterThan(0.3);
  });
});

describe('runTool limits', () => {
  const base = { args: [], timeoutMs: 5_000, maxOutputBytes: 1024, installHint: 'apt-get install nothing' };

  it('names the package to install when the executable is missing', async () => {
    const err = await voiceError(runTool({ ...base, command: 'groupgate-no-such-engine' }));
    expect(err.code).toBe('unavailable');
    expect(err.message).toBe(
      'voice is not available in this sandbox: install groupgate-no-such-engine (apt-get install nothing)',
    );
  });

  it('kills a tool that runs past its time limit or the turn deadline', async () => {
    const started = Date.now();
    const slow = await voiceError(runTool({ ...base, command: 'sleep', args: ['10'], timeoutMs: 200 }));
    expect(slow.code).toBe('timeout');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const aborted = await voiceError(runTool({ ...base, command: 'sleep', args: ['10'], signal: controller.signal }));
    expect(aborted.code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('kills a tool whose output passes the cap, and reports a failing exit without its stderr', async () => {
    const big = await voiceError(runTool({ ...base, command: 'head', args: ['-c', '100000', '/dev/zero'] }));
    expect(big.code).toBe('unavailable');
    const failed = await voiceError(runTool({ ...base, command: 'ls', args: ['/groupgate-no-such-dir'] }));
    expect(failed.message).toBe('ls failed (exit 2)');
  });
});
