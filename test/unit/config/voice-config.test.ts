import { loadWebhookConfig } from '#config/runtime-config';
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

describe('VOICE_GROUP_CHATS (read by the webhook and the connector, with the trigger rules)', () => {
  const WEBHOOK_ENV = {
    ENABLED_PLATFORMS: 'feishu,slack',
    QUEUE_URL: 'http://localhost:9324/000000000000/events.fifo',
    EVENTS_TABLE: 'events',
  };
  function webhookProblems(env: Record<string, string>): readonly string[] {
    try {
      loadWebhookConfig({ ...WEBHOOK_ENV, ...env });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    throw new Error('expected a ConfigError');
  }

  it('turns voice messages on in each listed group, on top of TRIGGER_RULES', () => {
    const config = loadWebhookConfig({
      ...WEBHOOK_ENV,
      VOICE_GROUP_CHATS: 'feishu:oc_team, feishu:oc_sales',
      TRIGGER_RULES: '{"chats":{"feishu:oc_team":{"prefixes":["/ai"]}}}',
    });
    expect(config.triggers.chats).toEqual({
      'feishu:oc_team': { prefixes: ['/ai'], voiceMessages: true },
      'feishu:oc_sales': { voiceMessages: true },
    });
  });

  it('unset changes nothing', () => {
    expect(loadWebhookConfig(WEBHOOK_ENV).triggers).toEqual({});
  });

  it('refuses entries that are not platform:chatId of a chat platform, naming each', () => {
    expect(webhookProblems({ VOICE_GROUP_CHATS: 'oc_team,api:eng,teams:T1' })).toEqual([
      expect.stringMatching(/^VOICE_GROUP_CHATS\.0: each entry must be platform:chatId \(feishu, /),
      expect.stringMatching(/^VOICE_GROUP_CHATS\.1: /),
      expect.stringMatching(/^VOICE_GROUP_CHATS\.2: /),
    ]);
  });

  it('TRIGGER_RULES refuses a voiceMessages that is not a boolean', () => {
    expect(webhookProblems({ TRIGGER_RULES: '{"default":{"voiceMessages":"yes"}}' })).toEqual([
      expect.stringMatching(/^TRIGGER_RULES\.default\.voiceMessages: /),
    ]);
  });
});
