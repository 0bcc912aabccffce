import { Template } from 'aws-cdk-lib/assertions';
import { ENV } from '#config/env-names';
import { loadWebhookConfig } from '#config/runtime-config';
import { voiceConfigFrom } from '#config/voice-config';
import { ConfigError } from '#core/errors';
import { type AppConfigInput, parseAppConfig } from '../../lib/config';
import { buildStack, EXAMPLE_MODEL_URI } from './build-stack';
import { actionsOf, functionEntry, type Statement, statementsOf } from './template-queries';

/**
 * `groupgate:voice` (issue 20, docs/VOICE.md): the worker's `VOICE_*` variables, read back by the runtime's own
 * `voiceConfigFrom`, and exactly the speech-recognition permission the chosen engine needs, on the worker only.
 */

const FUNCTIONS = ['webhook', 'worker', 'chat-api', 'jwt-authorizer'] as const;
const VOICE_ACTION = /^(transcribe|polly):|^sagemaker:InvokeEndpoint$/;

function synth(voice: AppConfigInput['voice']) {
  const template = Template.fromStack(buildStack(voice === undefined ? {} : { voice }).stack);
  const envOf = (service: string) => functionEntry(template, service)[1].Properties.Environment.Variables;
  /** The statements granting a voice action; the primary model's (which also streams responses) is not one. */
  const voiceStatements = (service: string): Statement[] =>
    statementsOf(template, functionEntry(template, service)[1]).filter(
      (s) =>
        actionsOf(s).some((a) => VOICE_ACTION.test(a)) &&
        !actionsOf(s).includes('sagemaker:InvokeEndpointWithResponseStream'),
    );
  return { template, envOf, voiceStatements };
}

const voiceVariables = (env: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('VOICE_')));

describe('groupgate:voice', () => {
  test('absent: no VOICE_* variable and no speech permission anywhere (the worker answers that voice is off)', () => {
    const { envOf, voiceStatements } = synth(undefined);
    for (const fn of FUNCTIONS) {
      expect(voiceVariables(envOf(fn))).toEqual({});
      expect(voiceStatements(fn)).toEqual([]);
    }
    expect(voiceConfigFrom(envOf('worker') as Record<string, string>).asr).toBeUndefined();
  });

  test('transcribe: the worker gets the settings and StartStreamTranscriptionWebSocket, no other function anything', () => {
    const { envOf, voiceStatements } = synth({ asr: 'transcribe', languages: ['zh-CN'], maxSeconds: 30 });
    const worker = envOf('worker') as Record<string, string>;
    expect(voiceVariables(worker)).toEqual({
      [ENV.voiceAsr]: 'transcribe',
      [ENV.voiceLanguages]: 'zh-CN',
      [ENV.voiceMaxSeconds]: '30',
    });
    expect(voiceConfigFrom(worker)).toMatchObject({
      asr: { engine: 'transcribe' },
      languages: ['zh-CN'],
      maxSeconds: 30,
    });
    // Transcribe streaming has no resource type: "*" is the only resource IAM accepts for it.
    expect(voiceStatements('worker')).toEqual([
      { Effect: 'Allow', Action: 'transcribe:StartStreamTranscriptionWebSocket', Resource: '*' },
    ]);
    for (const fn of FUNCTIONS.filter((f) => f !== 'worker')) {
      expect(voiceVariables(envOf(fn))).toEqual({});
      expect(voiceStatements(fn)).toEqual([]);
    }
  });

  test('sagemaker-whisper: InvokeEndpoint on exactly the named endpoint (lower-cased, as SageMaker ARNs are)', () => {
    const { envOf, voiceStatements } = synth({ asr: 'sagemaker-whisper', asrEndpointName: 'Whisper-Large-v3' });
    const worker = envOf('worker') as Record<string, string>;
    expect(voiceConfigFrom(worker).asr).toEqual({ engine: 'sagemaker-whisper', endpointName: 'Whisper-Large-v3' });
    expect(worker[ENV.voiceLanguages]).toBe('zh-CN,en-US');
    expect(worker[ENV.voiceMaxSeconds]).toBe('60');
    const [statement, ...others] = voiceStatements('worker');
    expect(others).toEqual([]);
    expect(statement?.Action).toBe('sagemaker:InvokeEndpoint');
    expect(JSON.stringify(statement?.Resource)).toContain(':endpoint/whisper-large-v3"');
    expect(
      voiceStatements('worker')
        .flatMap(actionsOf)
        .some((a) => a.startsWith('transcribe:')),
    ).toBe(false);
  });

  test('polly: the chats that opted in, the engine and the cap reach the worker, with SynthesizeSpeech', () => {
    const { envOf, voiceStatements } = synth({
      asr: 'transcribe',
      tts: 'polly',
      pollyEngine: 'standard',
      replyChats: ['feishu:oc_team', 'slack:C0SALES', 'dingtalk:cid_ops'],
    });
    const worker = envOf('worker') as Record<string, string>;
    expect(voiceVariables(worker)).toMatchObject({
      [ENV.voiceTts]: 'polly',
      [ENV.voicePollyEngine]: 'standard',
      [ENV.voiceMaxSpeechChars]: '1000',
      [ENV.voiceReplyChats]: 'feishu:oc_team,slack:C0SALES,dingtalk:cid_ops',
    });
    expect(voiceConfigFrom(worker)).toMatchObject({
      tts: { engine: 'polly', pollyEngine: 'standard' },
      replyChats: ['feishu:oc_team', 'slack:C0SALES', 'dingtalk:cid_ops'],
    });
    // Polly's permissions reference lists "*" as SynthesizeSpeech's resource (no resource type without lexicons).
    expect(voiceStatements('worker')).toEqual([
      {
        Effect: 'Allow',
        Action: ['transcribe:StartStreamTranscriptionWebSocket', 'polly:SynthesizeSpeech'],
        Resource: '*',
      },
    ]);
    expect(voiceStatements('chat-api')).toEqual([]);
  });

  test('off: the variables say so and no permission is granted', () => {
    const { envOf, voiceStatements } = synth({ asr: 'off' });
    expect(envOf('worker')[ENV.voiceAsr]).toBe('off');
    expect(voiceStatements('worker')).toEqual([]);
  });

  test.each<[string, unknown, RegExp]>([
    ['whisper without its endpoint', { asr: 'sagemaker-whisper' }, /^voice\.asrEndpointName: is required/],
    ['an endpoint without whisper', { asr: 'transcribe', asrEndpointName: 'w' }, /^voice\.asrEndpointName: is only/],
    ['the sandbox engine', { asr: 'local' }, /^voice\.asr: .*local recognition is the sandbox's/],
    ['an invalid endpoint name', { asr: 'sagemaker-whisper', asrEndpointName: 'bad_name' }, /^voice\.asrEndpointName/],
    ['a language Transcribe is not set up for', { asr: 'transcribe', languages: ['fr-FR'] }, /^voice\.languages/],
    ['no language', { asr: 'transcribe', languages: [] }, /^voice\.languages/],
    ['over 300 s', { asr: 'transcribe', maxSeconds: 301 }, /^voice\.maxSeconds/],
    ['an unknown field', { asr: 'transcribe', speak: true }, /^voice/],
    ['polly with no chat to speak to', { tts: 'polly' }, /^voice\.replyChats: must name at least one chat/],
    ['chats to speak to without polly', { replyChats: ['feishu:oc_a'] }, /^voice\.replyChats: spoken answers need/],
    [
      'a chat on a platform without spoken answers',
      { tts: 'polly', replyChats: ['wecom:wr_1'] },
      /^voice\.replyChats\.0: .*not posted on WeCom/,
    ],
    ['the sandbox speech engine', { tts: 'local', replyChats: ['feishu:oc_a'] }, /^voice\.tts/],
    ['a voice group on the REST API', { groupChats: ['api:team'] }, /^voice\.groupChats\.0: must be platform:chatId/],
    ['a voice group with no chat id', { groupChats: ['feishu:'] }, /^voice\.groupChats\.0: must be platform:chatId/],
  ])('refuses %s at synth', (_label, voice, message) => {
    let problems: readonly string[] = [];
    try {
      parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, voice } as AppConfigInput);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    expect(problems).toEqual([expect.stringMatching(message)]);
  });
});

describe('groupgate:voice groupChats (voice messages without an @-mention)', () => {
  const GROUPS = ['feishu:oc_support', 'dingtalk:cid_ops'];

  test('the webhook gets VOICE_GROUP_CHATS and its own config reads them as trigger rules; no other function', () => {
    const { envOf } = synth({ groupChats: GROUPS });
    const webhook = envOf('webhook') as Record<string, string>;
    expect(webhook[ENV.voiceGroupChats]).toBe(GROUPS.join(','));
    // The table and queue are CloudFormation references in the template; the names stand in for what Lambda gets.
    const triggers = loadWebhookConfig({
      ...webhook,
      QUEUE_URL: 'https://sqs.example/q.fifo',
      EVENTS_TABLE: 'events',
      ENABLED_PLATFORMS: 'feishu,dingtalk',
    }).triggers;
    expect(triggers.chats?.['feishu:oc_support']).toMatchObject({ voiceMessages: true });
    expect(triggers.chats?.['dingtalk:cid_ops']).toMatchObject({ voiceMessages: true });
    for (const fn of FUNCTIONS.filter((f) => f !== 'webhook')) expect(envOf(fn)[ENV.voiceGroupChats]).toBeUndefined();
  });

  test('the connector gets the same list; without groups neither it nor the webhook has the variable', () => {
    const containerEnv = (voice: AppConfigInput['voice']) => {
      const template = Template.fromStack(
        buildStack({ longConnection: { platforms: ['feishu'] }, ...(voice ? { voice } : {}) }).stack,
      );
      const [definition] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
      const [container] = (definition?.Properties.ContainerDefinitions ?? []) as {
        Environment: { Name: string; Value: unknown }[];
      }[];
      return {
        connector: Object.fromEntries((container?.Environment ?? []).map((e) => [e.Name, e.Value])),
        webhook: functionEntry(template, 'webhook')[1].Properties.Environment.Variables as Record<string, unknown>,
      };
    };
    expect(containerEnv({ groupChats: GROUPS }).connector[ENV.voiceGroupChats]).toBe(GROUPS.join(','));
    const none = containerEnv({ asr: 'transcribe' });
    expect(none.connector[ENV.voiceGroupChats]).toBeUndefined();
    expect(none.webhook[ENV.voiceGroupChats]).toBeUndefined();
  });
});
