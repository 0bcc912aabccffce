import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentity } from '@smithy/types';
import { probeAudio } from './audio';
import type { AudioClip, SpeechToText, TranscribeOptions, Transcript, VoiceLanguage } from './ports';
import { VOICE_LANGUAGES } from './ports';
import { VoiceError } from './voice-error';

export interface WhisperAsrOptions {
  /** The SageMaker endpoint serving Whisper (`VOICE_ASR_ENDPOINT_NAME`). */
  readonly endpointName: string;
  readonly region: string;
  /** Override of the runtime URL (tests, a local stand-in). */
  readonly endpointUrl?: string;
  /** Only for non-AWS targets; in Lambda the default provider chain is used. */
  readonly credentials?: AwsCredentialIdentity;
  readonly maxSeconds: number;
  /** @default 30_000 */
  readonly timeoutMs?: number;
}

/** Whisper's language names for ours: it answers with names (`chinese`) or ISO 639-1 codes (`zh`), per server. */
const LANGUAGE_OF: Readonly<Record<string, VoiceLanguage>> = {
  zh: 'zh-CN',
  chinese: 'zh-CN',
  en: 'en-US',
  english: 'en-US',
};

/**
 * A private Whisper model on a SageMaker endpoint, the same contract style as the chat model: `InvokeEndpoint` with the
 * audio bytes as the body and their media type as `ContentType` (what the Hugging Face inference toolkit's
 * `automatic-speech-recognition` task reads, decoding with ffmpeg), the language as a `language` custom attribute
 * when known; the answer is JSON `{"text": "…", "language"?: "…"}`. Audio never leaves the VPC's endpoint.
 */
export function createWhisperAsr(options: WhisperAsrOptions): SpeechToText {
  const sdk = new SageMakerRuntimeClient({
    region: options.region,
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ requestTimeout: options.timeoutMs ?? 30_000, connectionTimeout: 3_000 }),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  return {
    engine: 'sagemaker-whisper',
    async transcribe(clip: AudioClip, { language, signal }: TranscribeOptions): Promise<Transcript> {
      const probe = probeAudio(clip, options.maxSeconds);
      let body: Uint8Array | undefined;
      try {
        const out = await sdk.send(
          new InvokeEndpointCommand({
            EndpointName: options.endpointName,
            ContentType: probe.container === 'wav' ? 'audio/wav' : 'audio/ogg',
            Accept: 'application/json',
            Body: clip.bytes,
            ...(language ? { CustomAttributes: `language=${language}` } : {}),
          }),
          { abortSignal: signal },
        );
        body = out.Body;
      } catch (err) {
        if (signal.aborted) throw new VoiceError('timeout', 'speech recognition was stopped: the deadline passed');
        const name = err instanceof Error ? err.name : 'Error';
        // SageMaker wraps the container's own 4xx (audio ffmpeg could not decode) as `ModelError: … client error (400)`.
        const rejected =
          name === 'ModelError' && /client error \(4\d\d\)/.test(err instanceof Error ? err.message : '');
        throw new VoiceError(
          rejected ? 'corrupt' : 'unavailable',
          `the Whisper endpoint could not transcribe the audio (${name})`,
          { cause: err },
        );
      }
      const answer = parseAnswer(body);
      const recognised = answer.language ? LANGUAGE_OF[answer.language.toLowerCase()] : undefined;
      const known =
        recognised ?? (language && (VOICE_LANGUAGES as readonly string[]).includes(language) ? language : undefined);
      return {
        text: answer.text.trim(),
        ...(known ? { language: known } : {}),
        durationSeconds: probe.durationSeconds,
      };
    },
  };
}

function parseAnswer(body: Uint8Array | undefined): { text: string; language?: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(body ?? new Uint8Array()).toString('utf8'));
    // The Hugging Face toolkit answers an object; some containers wrap it in a one-element array.
    const item = Array.isArray(parsed) ? parsed[0] : parsed;
    if (typeof item === 'object' && item !== null && typeof (item as { text?: unknown }).text === 'string') {
      const { text, language } = item as { text: string; language?: unknown };
      return typeof language === 'string' ? { text, language } : { text };
    }
  } catch {
    // Falls through to the error below.
  }
  throw new VoiceError('unavailable', 'the Whisper endpoint answered without a transcript');
}
