import { ConfigError } from '#core/errors';
import { createDingTalkPlatform, dingtalkPlatform } from '#platforms/dingtalk/index';
import type { ReplyHandle } from '#platforms/types';
import { CREDENTIALS, recordingDeps } from './helpers';
import { cardRig } from './stream-rig';

const { appKey, appSecret } = CREDENTIALS.dingtalk;

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('DingTalk card configuration', () => {
  it('streams only when a card template is configured', () => {
    expect(createDingTalkPlatform({ appKey, appSecret }, recordingDeps()).streaming).toBe(false);
    expect(createDingTalkPlatform({ appKey, appSecret, cardTemplateId: '' }, recordingDeps()).streaming).toBe(false);
    const streaming = createDingTalkPlatform(
      { appKey, appSecret, cardTemplateId: '382e4302-551d-4880-bf29-a30acfab2e71.schema' },
      recordingDeps(),
    );
    expect(streaming.streaming).toBe(true);
  });

  it.each([
    ['a template id with spaces', { cardTemplateId: 'my template' }, 'DINGTALK_CARD_TEMPLATE_ID'],
    ['a pasted URL as template id', { cardTemplateId: 'https://open.dingtalk.com/x' }, 'DINGTALK_CARD_TEMPLATE_ID'],
    [
      'a content key with a dash',
      { cardTemplateId: 't.schema', cardContentKey: 'msg-content' },
      'DINGTALK_CARD_CONTENT_KEY',
    ],
    [
      'flowStatus as the content key',
      { cardTemplateId: 't.schema', cardContentKey: 'flowStatus' },
      'DINGTALK_CARD_CONTENT_KEY',
    ],
  ])('refuses %s with a ConfigError naming the variable', (_name, card, variable) => {
    const problems = problemsOf(() => createDingTalkPlatform({ appKey, appSecret, ...card }, recordingDeps()));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(variable);
  });

  it('reads the template and content key from the environment through the descriptor', () => {
    const build = (env: Record<string, string>) =>
      dingtalkPlatform.create({
        credentials: { appKey, appSecret },
        env,
        replyLimits: {},
        replyHandleOrigins: [],
        deps: recordingDeps(),
      });
    expect(build({}).streaming).toBe(false);
    expect(build({ DINGTALK_CARD_TEMPLATE_ID: 't1.schema' }).streaming).toBe(true);
    expect(() => build({ DINGTALK_CARD_TEMPLATE_ID: 't1.schema', DINGTALK_CARD_CONTENT_KEY: 'bad key' })).toThrow(
      ConfigError,
    );
  });
});

describe('DingTalk openReply without a card', () => {
  it('is one-shot without stream: true, even with a template (nothing before finish, then one message)', async () => {
    const rig = cardRig();
    const session = await rig.platform.openReply(rig.target());
    await session.update('partial');
    await rig.advance(1_000);
    expect(rig.requests).toHaveLength(0);
    await session.finish('the answer');
    expect(rig.cardCalls()).toHaveLength(0);
    expect(session.platformCalls).toBe(1);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'the answer' })]);
  });

  it('is one-shot when no template is configured, even with stream: true', async () => {
    const rig = cardRig({ config: { cardTemplateId: undefined } });
    expect(rig.platform.streaming).toBe(false);
    const { session } = await rig.open();
    await session.update('partial');
    await rig.advance(1_000);
    await session.finish('the answer');
    expect(rig.cardCalls()).toHaveLength(0);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'the answer' })]);
  });

  it.each<[string, Partial<Extract<ReplyHandle, { platform: 'dingtalk' }>>]>([
    ['a handle queued before streaming existed', { conversationType: undefined, senderStaffId: undefined }],
    ['a 1:1 chat whose sender has no staff id', { conversationType: 'direct', senderStaffId: undefined }],
  ])('is one-shot for %s', async (_name, change) => {
    const rig = cardRig();
    const target = rig.target();
    const handle = { ...target.handle, ...change } as ReplyHandle;
    const { session } = await rig.open({ ...target, handle });
    await session.update('partial');
    await rig.advance(1_000);
    await session.finish('the answer');
    expect(rig.cardCalls()).toHaveLength(0);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'the answer' })]);
  });
});
