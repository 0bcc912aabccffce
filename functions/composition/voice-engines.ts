import type { VoiceConfig } from '#config/voice-config';
import { awsEndpoint, awsRegion } from '#shared/aws-env';
import { credentialsFromEnv } from '#shared/container-credentials';
import { createLocalAsr } from '#voice/local-asr';
import { createLocalTts } from '#voice/local-tts';
import { createPollyTts } from '#voice/polly';
import type { SpeechToText, TextToSpeech } from '#voice/ports';
import { createTranscribeAsr } from '#voice/transcribe';
import { createWhisperAsr } from '#voice/whisper-sagemaker';

/** The configured voice engines, built once per cold start; absent ones are turned off. */
export interface VoiceEngines {
  readonly asr?: SpeechToText;
  readonly tts?: TextToSpeech;
}

/**
 * Builds the engines `config` names. AWS engines take the function's region and credentials from the environment
 * (Polly's endpoint honours `AWS_ENDPOINT_URL_POLLY`, as the SDK's would).
 */
export function createVoiceEngines(
  config: VoiceConfig,
  env: Readonly<Record<string, string | undefined>>,
): VoiceEngines {
  const region = () => awsRegion(env);
  let asr: SpeechToText | undefined;
  switch (config.asr?.engine) {
    case 'local':
      asr = createLocalAsr({ maxSeconds: config.maxSeconds });
      break;
    case 'transcribe':
      asr = createTranscribeAsr({
        region: region(),
        credentials: credentialsFromEnv(env),
        maxSeconds: config.maxSeconds,
        languages: config.languages,
      });
      break;
    case 'sagemaker-whisper':
      asr = createWhisperAsr({
        endpointName: config.asr.endpointName,
        region: region(),
        maxSeconds: config.maxSeconds,
      });
      break;
    case undefined:
      break;
  }
  let tts: TextToSpeech | undefined;
  switch (config.tts?.engine) {
    case 'local':
      tts = createLocalTts({ maxChars: config.maxSpeechChars });
      break;
    case 'polly':
      tts = createPollyTts({
        region: region(),
        endpoint: awsEndpoint({ endpointPrefix: 'polly', envId: 'POLLY' }, region(), env),
        credentials: credentialsFromEnv(env),
        maxChars: config.maxSpeechChars,
        engine: config.tts.pollyEngine,
      });
      break;
    case undefined:
      break;
  }
  return { ...(asr ? { asr } : {}), ...(tts ? { tts } : {}) };
}
