import { readOggInfo } from './ogg';
import type { SynthesizedAudio, SynthesizeOptions, TextToSpeech, VoiceLanguage } from './ports';
import { runTool } from './tool-process';
import { VoiceError } from './voice-error';
import { parseWav, writeWav } from './wav';

/** espeak-ng's voice per language: `cmn` reads Mandarin (Han characters), `en-us` American English. */
export const ESPEAK_VOICES: Readonly<Record<VoiceLanguage, string>> = { 'zh-CN': 'cmn', 'en-US': 'en-us' };
const INSTALL_HINT = 'apt-get install espeak-ng opus-tools';

export interface LocalTtsOptions {
  /** Longest text spoken, characters: more is `too_long` (the text reply still goes out). */
  readonly maxChars: number;
  /** @default 30_000 */
  readonly timeoutMs?: number;
}

/**
 * Upper bound of espeak-ng's output per character: 22,050 Hz 16-bit mono is 44.1 KB a second, and its slowest voice
 * here, Mandarin (one syllable per Han character), took 0.35 s a character (18.1 s for 50); 32,000 bytes is 0.73 s.
 * (8,000, sized for English, cut Mandarin answers of 100–180 characters off with an output-cap error.)
 */
const BYTES_PER_CHAR = 32_000;

/**
 * Speech synthesis on this machine (the sandbox): `espeak-ng` reads the text from stdin (so no text can be taken for
 * an option) and writes 22,050 Hz WAV to stdout; its streamed header is rewritten with the real length. `ogg_opus`
 * goes through `opusenc` (opus-tools).
 */
export function createLocalTts(options: LocalTtsOptions): TextToSpeech {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return {
    engine: 'local',
    async synthesize(text: string, { language, format, voice, signal }: SynthesizeOptions): Promise<SynthesizedAudio> {
      const characters = [...text].length;
      if (characters === 0) throw new VoiceError('corrupt', 'nothing to say: the text is empty');
      if (characters > options.maxChars) {
        throw new VoiceError(
          'too_long',
          `the answer is ${characters} characters; speech is limited to ${options.maxChars}`,
        );
      }
      const raw = await runTool({
        command: 'espeak-ng',
        args: ['--stdin', '-b', '1', '-v', voice ?? ESPEAK_VOICES[language], '--stdout'],
        input: Buffer.from(text, 'utf8'),
        timeoutMs,
        maxOutputBytes: 1024 * 1024 + characters * BYTES_PER_CHAR,
        ...(signal ? { signal } : {}),
        installHint: INSTALL_HINT,
      });
      const pcm = parseWav(raw);
      const wav = writeWav(pcm);
      if (format === 'wav') {
        return { bytes: wav, mediaType: 'audio/wav', durationSeconds: pcm.durationSeconds, characters };
      }
      const ogg = await runTool({
        command: 'opusenc',
        args: ['--quiet', '-', '-'],
        input: wav,
        timeoutMs,
        maxOutputBytes: wav.length,
        ...(signal ? { signal } : {}),
        installHint: INSTALL_HINT,
      });
      const bytes = new Uint8Array(ogg);
      return { bytes, mediaType: 'audio/ogg', durationSeconds: readOggInfo(bytes).durationSeconds, characters };
    },
  };
}
