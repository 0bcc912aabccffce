import { speaksTo, voiceConfigFrom } from '#config/voice-config';
import { ConfigError } from '#core/errors';

function problems(env: Record<string, string>): readonly string[] {
  try {
    voiceConfigFrom(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('voiceConfigFrom', () => {
  it('defaults to voice off, both languages, 60 s and 1000 characters', () => {
    expect(voiceConfigFrom({})).toEqual({
      languages: ['zh-CN', 'en-US'],
      maxSeconds: 60,
      maxSpeechChars: 1000,
      replyChats: [],
    });
  });

  it('reads engines, languages, limits and the chats that opted in to spoken answers', () => {
    const config = voiceConfigFrom({
      VOICE_ASR: 'sagemaker-whisper',
      VOICE_ASR_ENDPOINT_NAME: 'whisper-large-v3',
      VOICE_TTS: 'polly',
      VOICE_POLLY_ENGINE: 'standard',
      VOICE_LANGUAGES: 'en-US, zh-CN, en-US',
      VOICE_MAX_SECONDS: '30',
      VOICE_MAX_SPEECH_CHARS: '3000',
      VOICE_REPLY_CHATS: 'feishu:oc_1,slack:C9',
    });
    expect(config).toEqual({
      asr: { engine: 'sagemaker-whisper', endpointName: 'whisper-large-v3' },
      tts: { engine: 'polly', pollyEngine: 'standard' },
      languages: ['en-US', 'zh-CN'],
      maxSeconds: 30,
      maxSpeechChars: 3000,
      replyChats: ['feishu:oc_1', 'slack:C9'],
    });
    expect(speaksTo(config, 'feishu', 'oc_1')).toBe(true);
    expect(speaksTo(config, 'feishu', 'oc_2')).toBe(false);
    expect(speaksTo(voiceConfigFrom({ VOICE_ASR: 'local' }), 'feishu', 'oc_1')).toBe(false);
  });

  it('names every bad variable at once', () => {
    expect(
      problems({
        VOICE_ASR: 'whisper',
        VOICE_LANGUAGES: 'fr-FR',
        VOICE_MAX_SECONDS: '0',
        VOICE_MAX_SPEECH_CHARS: '3001',
      }),
    ).toEqual([
      expect.stringMatching(/^VOICE_ASR: /),
      expect.stringMatching(/^VOICE_LANGUAGES\.0: /),
      expect.stringMatching(/^VOICE_MAX_SECONDS: /),
      expect.stringMatching(/^VOICE_MAX_SPEECH_CHARS: /),
    ]);
    expect(problems({ VOICE_REPLY_CHATS: 'oc_1' })).toEqual([
      expect.stringMatching(/^VOICE_REPLY_CHATS\.0: each entry must be platform:chatId/),
    ]);
  });

  it('reports settings that need another or would do nothing', () => {
    expect(problems({ VOICE_ASR: 'sagemaker-whisper' })).toEqual([
      'VOICE_ASR_ENDPOINT_NAME: required with VOICE_ASR=sagemaker-whisper',
    ]);
    expect(
      problems({ VOICE_ASR: 'transcribe', VOICE_ASR_ENDPOINT_NAME: 'w', VOICE_REPLY_CHATS: 'feishu:oc_1' }),
    ).toEqual([
      'VOICE_ASR_ENDPOINT_NAME: only used with VOICE_ASR=sagemaker-whisper',
      'VOICE_REPLY_CHATS: spoken answers need VOICE_TTS (local or polly)',
    ]);
  });
});
