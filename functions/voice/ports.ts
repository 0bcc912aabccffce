/**
 * The two voice ports. The worker turns a member's voice message into text through `SpeechToText` before the answering
 * pipeline (the transcript is the member's text: same safety and PII path), and may turn the answer into speech
 * through `TextToSpeech` for groups that opted in. Engines: `local-asr.ts` / `local-tts.ts` (pocketsphinx, espeak-ng:
 * the sandbox), `transcribe.ts` (Amazon Transcribe streaming), `whisper-sagemaker.ts` (a private Whisper endpoint),
 * `polly.ts` (Amazon Polly). Every failure is a `VoiceError`.
 */

/** The languages GroupGate recognises and speaks (Transcribe's and Polly's codes). */
export const VOICE_LANGUAGES = ['zh-CN', 'en-US'] as const;
export type VoiceLanguage = (typeof VOICE_LANGUAGES)[number];

/** Audio as a platform delivered it (or an engine produced it). */
export interface AudioClip {
  readonly bytes: Uint8Array;
  /** What the sender says it is (`audio/ogg`, `audio/wav`, …): a hint only; the bytes are sniffed. */
  readonly mediaType: string;
}

export interface TranscribeOptions {
  /** The language spoken, when known; engines that can identify it do so when absent. */
  readonly language?: VoiceLanguage;
  /** Aborts the recognition (the turn's deadline): the engine stops and rejects with `timeout`. */
  readonly signal: AbortSignal;
}

export interface Transcript {
  /** The recognised words, trimmed; empty when nothing was recognised (silence). */
  readonly text: string;
  /** The language recognised in, when the engine says. */
  readonly language?: VoiceLanguage;
  /** The audio's length from its headers: what ASR is billed on. */
  readonly durationSeconds: number;
}

export interface SpeechToText {
  /** The engine's name, as configured and as ledger rows name it. */
  readonly engine: AsrEngineName;
  /** @throws VoiceError */
  transcribe(audio: AudioClip, options: TranscribeOptions): Promise<Transcript>;
}

/** What a platform's audio message takes: Ogg/Opus (Feishu `audio`), or WAV where any playable file will do. */
export type SpeechFormat = 'ogg_opus' | 'wav';

export interface SynthesizeOptions {
  readonly language: VoiceLanguage;
  readonly format: SpeechFormat;
  /** An engine-specific voice (Polly `Zhiyu`, espeak-ng `cmn`); the language's default when absent. */
  readonly voice?: string;
  readonly signal?: AbortSignal;
}

export interface SynthesizedAudio extends AudioClip {
  readonly durationSeconds: number;
  /** Characters synthesised: what Polly bills. */
  readonly characters: number;
}

export interface TextToSpeech {
  readonly engine: TtsEngineName;
  /** @throws VoiceError */
  synthesize(text: string, options: SynthesizeOptions): Promise<SynthesizedAudio>;
}

export const ASR_ENGINES = ['off', 'local', 'transcribe', 'sagemaker-whisper'] as const;
export type AsrEngineName = Exclude<(typeof ASR_ENGINES)[number], 'off'>;
export const TTS_ENGINES = ['off', 'local', 'polly'] as const;
export type TtsEngineName = Exclude<(typeof TTS_ENGINES)[number], 'off'>;
