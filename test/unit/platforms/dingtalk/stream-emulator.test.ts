import {
  createDingTalkEmulator,
  DINGTALK_CARD_QPS_LIMIT,
  DINGTALK_EMULATED_CARD_TEMPLATE,
} from '../../../../sandbox/platform-emulator/dingtalk';
import type { EmulatedApiResponse } from '../../../../sandbox/platform-emulator/types';
import { CREDENTIALS, emulatorContext, NOW } from './helpers';

const TRACK = 'a'.repeat(64);

/** The DingTalk emulator's card APIs called directly, as the real API would be, on a movable clock. */
function emulated(options: { clockScale?: number } = {}) {
  const clock = { now: NOW };
  const emulator = createDingTalkEmulator();
  const ctx = {
    ...emulatorContext('https://api.dingtalk.test', { now: () => clock.now }),
    clockScale: options.clockScale ?? 1,
  };
  let token = '';
  const call = async (method: string, path: string, body: unknown, auth = true) => {
    const response = await emulator.handleApi(
      {
        method,
        path,
        query: {},
        headers: auth ? { 'x-acs-dingtalk-access-token': token } : {},
        body: Buffer.from(JSON.stringify(body), 'utf8'),
      },
      ctx,
    );
    return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
  };
  const login = async () => {
    const { appKey, appSecret } = CREDENTIALS.dingtalk;
    const answer = await call('POST', '/v1.0/oauth2/accessToken', { appKey, appSecret }, false);
    token = String(answer.body.accessToken);
  };
  const create = (overrides: Record<string, unknown> = {}) =>
    call('POST', '/v1.0/card/instances/createAndDeliver', {
      cardTemplateId: DINGTALK_EMULATED_CARD_TEMPLATE.id,
      outTrackId: TRACK,
      callbackType: 'STREAM',
      cardData: { cardParamMap: { msgContent: '', flowStatus: '1' } },
      userIdType: 1,
      openSpaceId: 'dtv1.card//IM_GROUP.cid-sales',
      imGroupOpenDeliverModel: { robotCode: CREDENTIALS.dingtalk.robotCode },
      ...overrides,
    });
  const stream = (content: string, overrides: Record<string, unknown> = {}) =>
    call('PUT', '/v1.0/card/streaming', {
      outTrackId: TRACK,
      guid: `g-${content}`,
      key: 'msgContent',
      content,
      isFull: true,
      isFinalize: false,
      isError: false,
      ...overrides,
    });
  const setParams = (params: Record<string, string>, outTrackId = TRACK) =>
    call('PUT', '/v1.0/card/instances', { outTrackId, cardData: { cardParamMap: params } });
  return { clock, ctx, call, login, create, stream, setParams };
}

const codeOf = (answer: { body: Record<string, unknown> }) => answer.body.code;

describe('DingTalk emulator: AI cards', () => {
  it('records a delivered card as streaming, updates it on each write and marks it finished on flowStatus 3', async () => {
    const e = emulated();
    await e.login();
    const created = await e.create();
    expect(created).toEqual({
      status: 200,
      body: {
        success: true,
        result: {
          outTrackId: TRACK,
          deliverResults: [expect.objectContaining({ spaceType: 'IM_GROUP', spaceId: 'cid-sales', success: true })],
        },
      },
    });
    expect(e.ctx.deliveries).toEqual([
      expect.objectContaining({
        platform: 'dingtalk',
        chatId: 'cid-sales',
        messageId: TRACK,
        text: '',
        stream: 'streaming',
      }),
    ]);
    expect((await e.stream('Hel')).status).toBe(200);
    expect((await e.stream('lo', { isFull: false })).status).toBe(200);
    expect(e.ctx.deliveries[0]).toMatchObject({ text: 'Hello', updates: 2 });
    await e.setParams({ msgContent: 'Hello!', flowStatus: '3' });
    expect(e.ctx.deliveries[0]).toMatchObject({ text: 'Hello!', stream: 'finished' });
  });

  it('marks a card failed on flowStatus 5 and then refuses streaming', async () => {
    const e = emulated();
    await e.login();
    await e.create();
    await e.setParams({ flowStatus: '5' });
    expect(e.ctx.deliveries[0]).toMatchObject({ stream: 'failed' });
    const late = await e.stream('late write');
    expect(late.status).toBe(400);
    expect(codeOf(late)).toBe('param.cardFinished');
    expect(e.ctx.deliveries[0]?.text).toBe('');
  });

  it('refuses streaming after FINISHED', async () => {
    const e = emulated();
    await e.login();
    await e.create();
    await e.setParams({ msgContent: 'done', flowStatus: '3' });
    expect(codeOf(await e.stream('again'))).toBe('param.cardFinished');
    expect(e.ctx.deliveries[0]?.text).toBe('done');
  });

  it('answers HTTP 500 unknownError to streaming on a card created without callbackType STREAM', async () => {
    const e = emulated();
    await e.login();
    await e.create({ callbackType: undefined });
    const answer = await e.stream('text');
    expect(answer).toEqual({ status: 500, body: { code: 'unknownError', message: '未知错误' } });
    expect(e.ctx.deliveries[0]?.text).toBe('');
  });

  it('creates but never shows a card delivered without userIdType 1', async () => {
    const e = emulated();
    await e.login();
    expect((await e.create({ userIdType: undefined })).status).toBe(200);
    expect((await e.stream('invisible')).status).toBe(200);
    expect(e.ctx.deliveries).toHaveLength(0);
  });

  it('refuses a streaming key that is not a template variable (and flowStatus as a text key)', async () => {
    const e = emulated();
    await e.login();
    await e.create();
    for (const key of ['content', 'flowStatus']) {
      const answer = await e.stream('x', { key });
      expect(answer.status).toBe(400);
      expect(codeOf(answer)).toBe('param.invalidKey');
    }
  });

  it('answers param.cardNotExist for an unknown outTrackId, on streaming and on instance updates', async () => {
    const e = emulated();
    await e.login();
    expect(codeOf(await e.stream('x'))).toBe('param.cardNotExist');
    const update = await e.setParams({ flowStatus: '3' }, 'b'.repeat(64));
    expect(update.status).toBe(400);
    expect(codeOf(update)).toBe('param.cardNotExist');
  });

  it('refuses a second card with the same outTrackId', async () => {
    const e = emulated();
    await e.login();
    await e.create();
    const again = await e.create();
    expect(again.status).toBe(400);
    expect(codeOf(again)).toBe('param.outTrackIdDuplicated');
    expect(e.ctx.deliveries).toHaveLength(1);
  });

  it('refuses an unpublished template and a malformed body', async () => {
    const e = emulated();
    await e.login();
    expect(codeOf(await e.create({ cardTemplateId: 'unpublished-x.schema' }))).toBe('param.templateUnpublished');
    const numeric = await e.create({ cardData: { cardParamMap: { flowStatus: 1 } } });
    expect(numeric.status).toBe(400);
    expect(codeOf(numeric)).toBe('invalidParameter');
    expect(codeOf(await e.create({ outTrackId: 'x'.repeat(65) }))).toBe('invalidParameter');
    expect(e.ctx.deliveries).toHaveLength(0);
  });

  it('reports a failed delivery per space and shows nothing for a bad openSpaceId or robotCode', async () => {
    const e = emulated();
    await e.login();
    const bad = await e.create({ openSpaceId: 'dtv1.card//IM_CHANNEL.cid-sales' });
    expect(bad.status).toBe(200);
    expect(JSON.stringify(bad.body)).toContain('spaceId is illegal');
    const robot = await e.create({ outTrackId: 'c'.repeat(64), imGroupOpenDeliverModel: { robotCode: 'other' } });
    expect(JSON.stringify(robot.body)).toContain('"success":false');
    const dm = await e.create({ outTrackId: 'd'.repeat(64), openSpaceId: 'dtv1.card//IM_ROBOT.lisi' });
    expect(JSON.stringify(dm.body)).toContain('"success":false');
    expect(e.ctx.deliveries).toHaveLength(0);
  });

  it('requires a valid access token', async () => {
    const e = emulated();
    const answer = await e.create();
    expect(answer.status).toBe(401);
    expect(codeOf(answer)).toBe('InvalidAuthentication');
    expect(e.ctx.deliveries).toHaveLength(0);
  });

  it('answers 403 QpsLimit past the per-second limit, unscaled by clockScale, and admits again a second later', async () => {
    const e = emulated({ clockScale: 60 });
    await e.login();
    await e.create();
    const answers: EmulatedApiResponse['statusCode'][] = [];
    for (let i = 1; i < DINGTALK_CARD_QPS_LIMIT; i++) answers.push((await e.stream(`w${i}`)).status);
    expect(answers.every((s) => s === 200)).toBe(true);
    const throttled = await e.stream('one too many');
    expect(throttled.status).toBe(403);
    expect(String(codeOf(throttled))).toContain('QpsLimit');
    e.clock.now += 999;
    expect((await e.stream('still throttled')).status).toBe(403);
    e.clock.now += 1;
    expect((await e.stream('next second')).status).toBe(200);
  });
});
