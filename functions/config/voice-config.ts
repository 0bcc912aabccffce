import { ConfigError } from '#core/errors';
import * as z from '#shared/zod';
import {
  ASR_ENGINES,
  type AsrEngineName,
  TTS_ENGINES,
  type TtsEngineName,
  VOICE_LANGUAGES,
  type VoiceLanguage,
} from '#voice/ports';
import { ENV } from './env-names';
import { chatRefList, envInt } from './pipeline-config';
import { splitList } from './runtime-config';

/** Voice settings (docs/VOICE.md), read once per cold start by the worker (and the sandbox, which sets them). */
export interface VoiceConfig {
  /** Absent: voice messages are answered with a note that voice is not enabled. */
  readonly asr?:
    | { readonly engine: Exclude<AsrEngineName, 'sagemaker-whisper'> }
    | { readonly engine: 'sagemaker-whisper'; readonly endpointName: string };
  /** Absent: no spoken answers. */
  readonly tts?: { readonly engine: TtsEngineName; readonly pollyEngine: 'standard' | 'neural' };
  /** The first is spoken when an answer's language cannot be told. */
  readonly languages: readonly VoiceLanguage[];
  readonly maxSeconds: number;
  readonly maxSpeechChars: number;
  /** `platform:chatId` entries that get spoken answers. */
  readonly replyChats: readonly string[];
}

export const DEFAULT_VOICE_MAX_SECONDS = 60;
export const DEFAULT_VOICE_MAX_SPEECH_CHARS = 1000;

const languageList = z.pipe(
  z.pipe(
    z.string(),
    z.transform((s: string) => splitList(s)),
  ),
  z.array(z.enum(VOICE_LANGUAGES)).check(z.minLength(1)),
);

/** The variables, for config schemas that parse the whole environment at once (the worker's). */
export const voiceEnvShape = {
  [ENV.voiceAsr]: z._default(z.enum(ASR_ENGINES), 'off'),
  [ENV.voiceAsrEndpointName]: z.optional(z.string().check(z.regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/))),
  [ENV.voiceTts]: z._default(z.enum(TTS_ENGINES), 'off'),
  [ENV.voicePollyEngine]: z._default(z.enum(['standard', 'neural']), 'neural'),
  [ENV.voiceLanguages]: z._default(languageList, [...VOICE_LANGUAGES]),
  [ENV.voiceMaxSeconds]: z._default(envInt(1, 300), DEFAULT_VOICE_MAX_SECONDS),
  [ENV.voiceMaxSpeechChars]: z._default(envInt(1, 3000), DEFAULT_VOICE_MAX_SPEECH_CHARS),
  [ENV.voiceReplyChats]: z.optional(chatRefList),
};
const voiceEnvSchema = z.object(voiceEnvShape);

/**
 * The config from the parsed variables.
 * @throws ConfigError when a setting needs another that is missing, or would do nothing.
 */
export function toVoiceConfig(parsed: z.output<typeof voiceEnvSchema>): VoiceConfig {
  const problems: string[] = [];
  const asrEngine = parsed[ENV.voiceAsr];
  const endpointName = parsed[ENV.voiceAsrEndpointName];
  if (asrEngine === 'sagemaker-whisper' && endpointName === undefined) {
    problems.push(`${ENV.voiceAsrEndpointName}: required with ${ENV.voiceAsr}=sagemaker-whisper`);
  }
  if (asrEngine !== 'sagemaker-whisper' && endpointName !== undefined) {
    problems.push(`${ENV.voiceAsrEndpointName}: only used with ${ENV.voiceAsr}=sagemaker-whisper`);
  }
  const ttsEngine = parsed[ENV.voiceTts];
  const replyChats = parsed[ENV.voiceReplyChats] ?? [];
  if (ttsEngine === 'off' && replyChats.length > 0) {
    problems.push(`${ENV.voiceReplyChats}: spoken answers need ${ENV.voiceTts} (local or polly)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...(asrEngine === 'off'
      ? {}
      : {
          asr:
            asrEngine === 'sagemaker-whisper'
              ? { engine: asrEngine, endpointName: endpointName ?? '' }
              : { engine: asrEngine },
        }),
    ...(ttsEngine === 'off' ? {} : { tts: { engine: ttsEngine, pollyEngine: parsed[ENV.voicePollyEngine] } }),
    languages: [...new Set(parsed[ENV.voiceLanguages])],
    maxSeconds: parsed[ENV.voiceMaxSeconds],
    maxSpeechChars: parsed[ENV.voiceMaxSpeechChars],
    replyChats,
  };
}

/** Throws `ConfigError` naming every malformed variable. */
export function voiceConfigFrom(env: Readonly<Record<string, string | undefined>>): VoiceConfig {
  const parsed = voiceEnvSchema.safeParse(
    Object.fromEntries(Object.keys(voiceEnvShape).map((name) => [name, env[name]])),
  );
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  return toVoiceConfig(parsed.data);
}

/** Whether answers in this chat are also spoken. */
export function speaksTo(config: VoiceConfig, platform: string, chatId: string): boolean {
  return config.tts !== undefined && config.replyChats.includes(`${platform}:${chatId}`);
}
