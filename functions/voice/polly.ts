import { type AwsCredentials, signRequest } from '#shared/aws-sigv4';
import type { AwsCredentialsProvider } from '#shared/container-credentials';
import { readOggInfo } from './ogg';
import type { SynthesizedAudio, SynthesizeOptions, TextToSpeech, VoiceLanguage } from './ports';
import { VoiceError } from './voice-error';
import { writeWav } from './wav';

/** Polly voices per language that the standard and neural engines both have (Zhiyu: Mandarin; Joanna: US English). */
export const POLLY_VOICES: Readonly<Record<VoiceLanguage, string>> = { 'zh-CN': 'Zhiyu', 'en-US': 'Joanna' };
/** Polly's own limit on billed characters per `SynthesizeSpeech` call. */
export const POLLY_MAX_CHARS = 3000;
const PCM_RATE = 16_000;

export interface PollyTtsOptions {
  readonly region: string;
  /** `https://polly.<region>.amazonaws.com` unless set (tests' local stand-in). */
  readonly endpoint?: URL;
  readonly credentials: AwsCredentials | AwsCredentialsProvider;
  /** Longest text spoken, characters; at most `POLLY_MAX_CHARS`. */
  readonly maxChars: number;
  /** @default 'neural' */
  readonly engine?: 'standard' | 'neural';
  /** @default 15_000 */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

/** Amazon Polly `SynthesizeSpeech` (REST-JSON `POST /v1/speech`, SigV4), without the AWS SDK. */
export function createPollyTts(options: PollyTtsOptions): TextToSpeech {
  const endpoint = options.endpoint ?? new URL(`https://polly.${options.region}.amazonaws.com`);
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const maxChars = Math.min(options.maxChars, POLLY_MAX_CHARS);
  return {
    engine: 'polly',
    async synthesize(text: string, { language, format, voice, signal }: SynthesizeOptions): Promise<SynthesizedAudio> {
      const characters = [...text].length;
      if (characters === 0) throw new VoiceError('corrupt', 'nothing to say: the text is empty');
      if (characters > maxChars) {
        throw new VoiceError('too_long', `the answer is ${characters} characters; speech is limited to ${maxChars}`);
      }
      const body = JSON.stringify({
        Engine: options.engine ?? 'neural',
        LanguageCode: language === 'zh-CN' ? 'cmn-CN' : language,
        // WAV is asked for as 16 kHz PCM and given its header here.
        OutputFormat: format === 'ogg_opus' ? 'ogg_opus' : 'pcm',
        ...(format === 'wav' ? { SampleRate: String(PCM_RATE) } : {}),
        Text: text,
        TextType: 'text',
        VoiceId: voice ?? POLLY_VOICES[language],
      });
      const credentials = typeof options.credentials === 'function' ? await options.credentials() : options.credentials;
      const path = '/v1/speech';
      const headers = signRequest(
        { method: 'POST', host: endpoint.host, path, headers: { 'content-type': 'application/json' }, body },
        { service: 'polly', region: options.region },
        credentials,
        new Date(now()),
      );
      const timeout = AbortSignal.timeout(options.timeoutMs ?? 15_000);
      let response: Response;
      try {
        response = await doFetch(new URL(path, endpoint), {
          method: 'POST',
          headers,
          body,
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (err) {
        const aborted = timeout.aborted || signal?.aborted === true;
        throw new VoiceError(aborted ? 'timeout' : 'unavailable', 'Amazon Polly did not answer', { cause: err });
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (!response.ok) {
        const type = response.headers.get('x-amzn-errortype')?.split(':')[0] ?? `HTTP ${response.status}`;
        throw new VoiceError(
          type === 'TextLengthExceededException' ? 'too_long' : 'unavailable',
          `Amazon Polly refused the text (${type})`,
          { cause: new Error(Buffer.from(bytes).toString('utf8').slice(0, 500)) },
        );
      }
      if (format === 'ogg_opus') {
        return { bytes, mediaType: 'audio/ogg', durationSeconds: readOggInfo(bytes).durationSeconds, characters };
      }
      const samples = new Int16Array(Math.floor(bytes.length / 2));
      const view = new DataView(bytes.buffer, bytes.byteOffset, samples.length * 2);
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
      return {
        bytes: writeWav({ sampleRate: PCM_RATE, channels: 1, samples }),
        mediaType: 'audio/wav',
        durationSeconds: samples.length / PCM_RATE,
        characters,
      };
    },
  };
}
