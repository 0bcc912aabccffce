import type { AwsCredentials } from '#shared/aws-sigv4';
import { presignUrl } from '#shared/aws-sigv4';
import type { AwsCredentialsProvider } from '#shared/container-credentials';
import { probeAudio } from './audio';
import { decodeEventMessages, encodeEventMessage } from './event-stream';
import type { AudioClip, SpeechToText, TranscribeOptions, Transcript, VoiceLanguage } from './ports';
import { VOICE_LANGUAGES } from './ports';
import { toMono } from './resample';
import { VoiceError } from './voice-error';
import { parseWav } from './wav';

export interface TranscribeAsrOptions {
  readonly region: string;
  /** `wss://transcribestreaming.<region>.amazonaws.com:8443` unless set (tests' local stand-in). */
  readonly endpoint?: URL;
  readonly credentials: AwsCredentials | AwsCredentialsProvider;
  /** Longest audio accepted, seconds (`VOICE_MAX_SECONDS`). */
  readonly maxSeconds: number;
  /** Languages to identify among when the message's language is not known (at least two, or the first is used). */
  readonly languages: readonly VoiceLanguage[];
  /** Audio per event; AWS recommends 50–200 ms. @default 100 */
  readonly chunkMs?: number;
  /**
   * How many times faster than real time audio is sent. AWS asks for streams "as close to real time as possible";
   * faster has not been tried against the live service. @default 1
   */
  readonly pace?: number;
  /** Extra time after the audio for the last transcript. @default 10_000 */
  readonly settleMs?: number;
  readonly now?: () => number;
  readonly webSocket?: typeof WebSocket;
}

interface Media {
  readonly encoding: 'pcm' | 'ogg-opus';
  readonly sampleRate: number;
  readonly bytes: Uint8Array;
  readonly durationSeconds: number;
}

/**
 * Amazon Transcribe streaming over its WebSocket API (SigV4-presigned URL, audio as event stream `AudioEvent`s,
 * transcripts back as `TranscriptEvent`s). Streaming rather than batch: a batch job needs the audio in S3 and a
 * job start and polling that take seconds even for a short clip, while a stream's final transcript follows the last
 * audio closely; voice messages are short (capped by `VOICE_MAX_SECONDS`). WAV is sent as its PCM samples (Transcribe
 * takes raw PCM, not WAV), Ogg/Opus as is (`ogg-opus`). Without a known language, Transcribe identifies it among
 * `languages`.
 */
export function createTranscribeAsr(options: TranscribeAsrOptions): SpeechToText {
  const chunkMs = options.chunkMs ?? 100;
  const pace = options.pace ?? 1;
  const settleMs = options.settleMs ?? 10_000;
  const now = options.now ?? Date.now;
  const Socket = options.webSocket ?? WebSocket;
  const endpoint = options.endpoint ?? new URL(`wss://transcribestreaming.${options.region}.amazonaws.com:8443`);

  function media(clip: AudioClip): Media {
    const probe = probeAudio(clip, options.maxSeconds);
    if (probe.codec === 'pcm_s16le') {
      const pcm = toMono(parseWav(clip.bytes));
      const bytes = new Uint8Array(pcm.samples.length * 2);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < pcm.samples.length; i++) view.setInt16(i * 2, pcm.samples[i] ?? 0, true);
      if (pcm.sampleRate < 8000 || pcm.sampleRate > 48_000) {
        throw new VoiceError('unsupported_codec', `a ${pcm.sampleRate} Hz WAV is outside 8–48 kHz`);
      }
      return { encoding: 'pcm', sampleRate: pcm.sampleRate, bytes, durationSeconds: probe.durationSeconds };
    }
    if (probe.codec === 'opus') {
      return { encoding: 'ogg-opus', sampleRate: 48_000, bytes: clip.bytes, durationSeconds: probe.durationSeconds };
    }
    throw new VoiceError('unsupported_codec', 'Ogg/Vorbis is not supported by Amazon Transcribe: send Opus');
  }

  async function url(audio: Media, language: VoiceLanguage | undefined): Promise<string> {
    const languages = options.languages.length > 0 ? options.languages : VOICE_LANGUAGES;
    const query: Record<string, string> = {
      'media-encoding': audio.encoding,
      'sample-rate': String(audio.sampleRate),
      ...(language !== undefined || languages.length < 2
        ? { 'language-code': language ?? languages[0] ?? 'en-US' }
        : { 'identify-language': 'true', 'language-options': languages.join(',') }),
    };
    const credentials = typeof options.credentials === 'function' ? await options.credentials() : options.credentials;
    return presignUrl(
      { protocol: endpoint.protocol, host: endpoint.host, path: '/stream-transcription-websocket', query },
      { service: 'transcribe', region: options.region },
      credentials,
      new Date(now()),
      300,
    );
  }

  return {
    engine: 'transcribe',
    async transcribe(clip: AudioClip, { language, signal }: TranscribeOptions): Promise<Transcript> {
      const audio = media(clip);
      const target = await url(audio, language);
      const chunkBytes = Math.max(
        1,
        Math.ceil((audio.bytes.length * chunkMs) / 1000 / Math.max(audio.durationSeconds, chunkMs / 1000)),
      );
      return new Promise<Transcript>((resolve, reject) => {
        const finals: string[] = [];
        let recognised: VoiceLanguage | undefined;
        let settled = false;
        let ended = false;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const socket = new Socket(target);
        socket.binaryType = 'arraybuffer';

        const finish = (error?: VoiceError) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close();
          if (error) reject(error);
          else {
            resolve({
              text: finals.join(' ').trim(),
              ...(recognised ? { language: recognised } : {}),
              durationSeconds: audio.durationSeconds,
            });
          }
        };
        const onAbort = () => finish(new VoiceError('timeout', 'speech recognition was stopped: the deadline passed'));
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });

        socket.addEventListener('open', () => {
          let sent = 0;
          const started = now();
          const sendNext = () => {
            if (settled || socket.readyState !== socket.OPEN) return;
            const chunk = audio.bytes.subarray(sent, sent + chunkBytes);
            socket.send(audioEvent(chunk));
            sent += chunk.length;
            if (chunk.length === 0) {
              ended = true;
              timer = setTimeout(
                () => finish(new VoiceError('timeout', 'Amazon Transcribe did not finish the transcript in time')),
                settleMs,
              );
              return;
            }
            // Pace by the audio sent so far, so timer drift does not accumulate.
            const due = started + ((sent / chunkBytes) * chunkMs) / pace;
            timer = setTimeout(sendNext, Math.max(0, due - now()));
          };
          sendNext();
        });
        socket.addEventListener('message', (event: MessageEvent) => {
          try {
            for (const message of decodeEventMessages(new Uint8Array(event.data as ArrayBuffer))) {
              const kind = message.headers[':message-type'];
              if (kind === 'exception') {
                const type = message.headers[':exception-type'] ?? 'Exception';
                return finish(
                  new VoiceError(
                    type === 'BadRequestException' ? 'corrupt' : 'unavailable',
                    `Amazon Transcribe refused the audio (${type})`,
                    { cause: new Error(Buffer.from(message.payload).toString('utf8').slice(0, 500)) },
                  ),
                );
              }
              if (kind === 'event' && message.headers[':event-type'] === 'TranscriptEvent') {
                for (const result of transcriptResults(message.payload)) {
                  if (result.IsPartial) continue;
                  const text = result.Alternatives?.[0]?.Transcript?.trim();
                  if (text) finals.push(text);
                  if (isVoiceLanguage(result.LanguageCode)) recognised = result.LanguageCode;
                }
              }
            }
          } catch (err) {
            finish(
              err instanceof VoiceError ? err : new VoiceError('unavailable', 'unreadable answer', { cause: err }),
            );
          }
        });
        socket.addEventListener('error', () =>
          finish(new VoiceError('unavailable', 'could not reach Amazon Transcribe')),
        );
        // The service closes the stream once it has sent the transcript of the last audio; any other close loses audio.
        socket.addEventListener('close', (event: { readonly code: number }) =>
          finish(
            ended && event.code === 1000
              ? undefined
              : new VoiceError('unavailable', `Amazon Transcribe closed the stream early (${event.code})`),
          ),
        );
      });
    },
  };
}

function audioEvent(chunk: Uint8Array): Uint8Array {
  return encodeEventMessage({
    headers: { ':message-type': 'event', ':event-type': 'AudioEvent', ':content-type': 'application/octet-stream' },
    payload: chunk,
  });
}

interface TranscriptResult {
  readonly IsPartial?: boolean;
  readonly LanguageCode?: string;
  readonly Alternatives?: readonly { readonly Transcript?: string }[];
}

function transcriptResults(payload: Uint8Array): readonly TranscriptResult[] {
  const parsed = JSON.parse(Buffer.from(payload).toString('utf8')) as {
    Transcript?: { Results?: readonly TranscriptResult[] };
  };
  return parsed.Transcript?.Results ?? [];
}

function isVoiceLanguage(value: unknown): value is VoiceLanguage {
  return typeof value === 'string' && (VOICE_LANGUAGES as readonly string[]).includes(value);
}
