import type { AudioClip, SpeechToText, VoiceLanguage } from './ports';
import { VoiceError, type VoiceErrorCode } from './voice-error';

/**
 * The worker's voice step, before the answering pipeline: a voice message becomes the member's text (then the same
 * safety, PII, context and model path as typed text), or a clear reply saying why it could not. Nothing is dropped:
 * every outcome either carries text to answer or a note to send.
 */

/** Where the audio comes from: the platform adapter's download of the attachment its parser made. */
export interface VoiceSource {
  /** For the member's messages: the file name the platform gave, or `voice message`. */
  readonly name: string;
  /** The platform's media type when it says one (`audio/ogg`); the bytes are sniffed anyway. */
  readonly mediaType?: string;
  /** Fetches at most `maxBytes`; rejects with the platform's error (its message is written for the member). */
  readonly download: (options: { readonly maxBytes: number; readonly signal: AbortSignal }) => Promise<Uint8Array>;
}

export interface VoiceTurnOptions {
  /** Absent: voice recognition is off (`VOICE_ASR=off`). */
  readonly asr?: SpeechToText;
  readonly maxSeconds: number;
  /** The language to recognise when the deployment has only one. */
  readonly languages: readonly VoiceLanguage[];
  /** Absolute ms by which the turn must be answered. */
  readonly deadline: number;
  readonly now: () => number;
}

/** What ASR was used for, as the ledger prices it (`InvocationUsage.voice.asr`). */
export interface AsrUsage {
  readonly engine: SpeechToText['engine'];
  readonly seconds: number;
}

export type VoiceTurn =
  | { readonly kind: 'text'; readonly text: string; readonly language?: VoiceLanguage; readonly usage: AsrUsage }
  | {
      readonly kind: 'note';
      /** Sent to the member instead of an answer. */
      readonly note: string;
      readonly code: VoiceErrorCode | 'off' | 'silence' | 'download';
      /** Set when the engine ran (and billed) before the failure: silence. */
      readonly usage?: AsrUsage;
    };

/**
 * Bytes a clip of the capped length can take: 16-bit stereo PCM at 48 kHz (the largest uncompressed voice message
 * accepted) plus headers; compressed formats are far smaller. The duration is checked from the headers after.
 */
export function maxVoiceBytes(maxSeconds: number): number {
  return maxSeconds * 48_000 * 2 * 2 + 64 * 1024;
}

export const VOICE_NOTES = {
  off: '抱歉,这个机器人还不能听语音消息,请输入文字。Sorry, this bot cannot listen to voice messages yet — please type your question.',
  silence:
    '抱歉,没有听清这条语音,请再说一次或输入文字。Sorry, I could not make out any words in your voice message — please try again or type your question.',
  too_long: (seconds: string, max: number) =>
    `抱歉,语音太长(${seconds} 秒),最多 ${max} 秒。Sorry, your voice message is ${seconds} s long; I can listen to ${max} s at most — please send a shorter one or type your question.`,
  corrupt:
    '抱歉,这条语音文件已损坏,无法读取。Sorry, I could not read your voice message (the audio file is damaged) — please send it again or type your question.',
  unsupported_codec: (detail: string) =>
    `抱歉,不支持这种音频格式。Sorry, I cannot play this kind of audio (${detail}) — please record a voice message in the chat app or type your question.`,
  unavailable: (detail: string) =>
    `抱歉,暂时无法识别语音。Sorry, voice messages cannot be understood right now (${detail}) — please type your question.`,
  timeout:
    '抱歉,识别语音超时。Sorry, understanding your voice message took too long — please send a shorter one or type your question.',
} as const;

export async function transcribeVoiceMessage(source: VoiceSource, options: VoiceTurnOptions): Promise<VoiceTurn> {
  const { asr } = options;
  if (asr === undefined) return { kind: 'note', note: VOICE_NOTES.off, code: 'off' };
  const signal = AbortSignal.timeout(Math.max(1, options.deadline - options.now()));
  let bytes: Uint8Array;
  try {
    bytes = await source.download({ maxBytes: maxVoiceBytes(options.maxSeconds), signal });
  } catch (err) {
    // The adapter's error is written for the member (`AttachmentError`); anything else is not shown.
    const told =
      err instanceof Error && err.name === 'AttachmentError' ? err.message : `${source.name} could not be downloaded`;
    return { kind: 'note', note: VOICE_NOTES.unavailable(told), code: 'download' };
  }
  const clip: AudioClip = { bytes, mediaType: source.mediaType ?? '' };
  const language = options.languages.length === 1 ? options.languages[0] : undefined;
  try {
    const transcript = await asr.transcribe(clip, { ...(language ? { language } : {}), signal });
    const usage = { engine: asr.engine, seconds: transcript.durationSeconds };
    if (transcript.text.length === 0) return { kind: 'note', note: VOICE_NOTES.silence, code: 'silence', usage };
    return {
      kind: 'text',
      text: transcript.text,
      ...(transcript.language ? { language: transcript.language } : {}),
      usage,
    };
  } catch (err) {
    if (!(err instanceof VoiceError)) throw err;
    return { kind: 'note', note: noteFor(err, options.maxSeconds), code: err.code };
  }
}

function noteFor(err: VoiceError, maxSeconds: number): string {
  switch (err.code) {
    case 'too_long':
      return VOICE_NOTES.too_long(/(\d+) s long/.exec(err.message)?.[1] ?? `> ${maxSeconds}`, maxSeconds);
    case 'corrupt':
      return VOICE_NOTES.corrupt;
    case 'unsupported_codec':
      return VOICE_NOTES.unsupported_codec(err.message.split(':')[0] ?? 'unknown format');
    case 'unavailable':
      return VOICE_NOTES.unavailable(err.message);
    case 'timeout':
      return VOICE_NOTES.timeout;
  }
}
