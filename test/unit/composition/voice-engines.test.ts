import { createVoiceEngines } from '#composition/voice-engines';
import { voiceConfigFrom } from '#config/voice-config';

const AWS = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'secret' };

describe('createVoiceEngines', () => {
  it('builds nothing when voice is off', () => {
    expect(createVoiceEngines(voiceConfigFrom({}), AWS)).toEqual({});
  });

  it.each([
    [{ VOICE_ASR: 'local', VOICE_TTS: 'local' }, 'local', 'local'],
    [{ VOICE_ASR: 'transcribe', VOICE_TTS: 'polly' }, 'transcribe', 'polly'],
    [{ VOICE_ASR: 'sagemaker-whisper', VOICE_ASR_ENDPOINT_NAME: 'whisper' }, 'sagemaker-whisper', undefined],
  ])('builds the configured engines for %j', (env, asr, tts) => {
    const engines = createVoiceEngines(voiceConfigFrom(env), AWS);
    expect(engines.asr?.engine).toBe(asr);
    expect(engines.tts?.engine).toBe(tts);
  });
});
