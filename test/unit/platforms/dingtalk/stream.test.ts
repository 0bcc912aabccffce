import { dingtalkOutTrackId } from '#platforms/dingtalk/index';
import { ReplySessionClosedError } from '#platforms/shared/reply-session';
import { DINGTALK_CARD_QPS_LIMIT } from '../../../../sandbox/platform-emulator/dingtalk';
import { cardRig } from './stream-rig';

const CREATE = '/v1.0/card/instances/createAndDeliver';
const STREAMING = '/v1.0/card/streaming';
const INSTANCES = '/v1.0/card/instances';

describe('DingTalk AI-card streaming session', () => {
  it('makes no call before the first update; a reply settled at once is one plain message', async () => {
    const rig = cardRig();
    const { session, recorded } = await rig.open();
    expect(rig.requests).toHaveLength(0);
    await expect(session.finish('cached answer')).resolves.toEqual({ messageIds: ['msg-evt-1#0'] });
    expect(rig.cardCalls()).toHaveLength(0);
    expect(recorded).toHaveLength(0);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'cached answer', chatId: 'cid-sales' })]);
    expect(rig.ctx.deliveries[0]).not.toHaveProperty('stream');
  });

  it('records the deterministic outTrackId before creating the card, then delivers and streams into it', async () => {
    const rig = cardRig();
    const outTrackId = dingtalkOutTrackId('msg-evt-1');
    expect(outTrackId).toMatch(/^[0-9a-f]{64}$/);
    const callsAtRecord: number[] = [];
    const session = await rig.platform.openReply(rig.target(), {
      stream: true,
      onOpened: async (surface) => {
        expect(surface).toEqual({ id: outTrackId, openedAt: rig.clock.now });
        callsAtRecord.push(rig.cardCalls().length);
      },
    });
    await session.update('第一段');
    await rig.advance(0);
    expect(callsAtRecord).toEqual([0]);
    const [create, inputing, stream] = rig.cardCalls();
    expect(create).toMatchObject({ method: 'POST', path: CREATE, status: 200 });
    expect(create?.body).toEqual({
      cardTemplateId: 'groupgate-sandbox-ai-card.schema',
      outTrackId,
      callbackType: 'STREAM',
      cardData: { cardParamMap: { msgContent: '', flowStatus: '1' } },
      imGroupOpenSpaceModel: { supportForward: true },
      imRobotOpenSpaceModel: { supportForward: true },
      userIdType: 1,
      openSpaceId: 'dtv1.card//IM_GROUP.cid-sales',
      // The group card @-mentions the asker, like a one-shot group reply.
      imGroupOpenDeliverModel: { robotCode: 'dingq1w2e3r4t5y6u7i8', atUserIds: { zhangsan: 'zhangsan' } },
    });
    expect(inputing).toMatchObject({ method: 'PUT', path: INSTANCES });
    expect(inputing?.body).toEqual({ outTrackId, cardData: { cardParamMap: { flowStatus: '2' } } });
    expect(stream?.body).toEqual({
      outTrackId,
      guid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      key: 'msgContent',
      content: '第一段',
      isFull: true,
      isFinalize: false,
      isError: false,
    });
    expect(rig.ctx.deliveries).toEqual([
      expect.objectContaining({ messageId: outTrackId, chatId: 'cid-sales', text: '第一段', stream: 'streaming' }),
    ]);
    expect(session.platformCalls).toBe(rig.cardCalls().length);
  });

  it('streams later updates with a new guid each, then finishes: final text, FINISHED, one delivery', async () => {
    const rig = cardRig();
    const { session, visibleAt } = await rig.open();
    await session.update('Hello');
    await rig.advance(0);
    await session.update('Hello, wor');
    await rig.advance(300);
    const result = await session.finish('Hello, world.');
    const outTrackId = dingtalkOutTrackId('msg-evt-1');
    expect(result).toEqual({ messageIds: [outTrackId] });
    const streams = rig.cardCalls().filter((r) => r.path === STREAMING);
    expect(streams.map((r) => r.body.content)).toEqual(['Hello', 'Hello, wor', 'Hello, world.']);
    expect(new Set(streams.map((r) => r.body.guid)).size).toBe(3);
    expect(streams.at(-1)?.body).toMatchObject({ isFinalize: true, isError: false });
    expect(rig.cardCalls().at(-1)?.body).toEqual({
      outTrackId,
      cardData: { cardParamMap: { msgContent: 'Hello, world.', flowStatus: '3' } },
    });
    expect(rig.ctx.deliveries).toEqual([
      expect.objectContaining({ messageId: outTrackId, text: 'Hello, world.', stream: 'finished' }),
    ]);
    expect(visibleAt).toHaveLength(1);
    await expect(session.update('more')).rejects.toBeInstanceOf(ReplySessionClosedError);
  });

  it('fail writes the note with isError and leaves the card FAILED', async () => {
    const rig = cardRig();
    const { session } = await rig.open();
    await session.update('partial answer');
    await rig.advance(0);
    await session.fail('partial answer\n\n(回答中断 / the answer was cut off)');
    const streams = rig.cardCalls().filter((r) => r.path === STREAMING);
    expect(streams.at(-1)?.body).toMatchObject({ isFinalize: true, isError: true });
    expect(rig.cardCalls().at(-1)?.body).toMatchObject({ cardData: { cardParamMap: { flowStatus: '5' } } });
    expect(rig.ctx.deliveries).toEqual([
      expect.objectContaining({ text: 'partial answer\n\n(回答中断 / the answer was cut off)', stream: 'failed' }),
    ]);
  });

  it('delivers a 1:1 reply to the sender’s IM_ROBOT space, shown in that chat', async () => {
    const rig = cardRig();
    const { session } = await rig.open(rig.target({ chatId: 'cid-dm-lisi', userId: 'lisi', direct: true }));
    await session.update('hi');
    await session.finish('hi there');
    expect(rig.cardCalls()[0]?.body).toMatchObject({
      openSpaceId: 'dtv1.card//IM_ROBOT.lisi',
      imRobotOpenDeliverModel: { spaceType: 'IM_ROBOT' },
      userIdType: 1,
    });
    expect(rig.cardCalls()[0]?.body).not.toHaveProperty('imGroupOpenDeliverModel');
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ chatId: 'cid-dm-lisi', text: 'hi there' })]);
  });

  it('neutralises @-mentions and caps the card text at the reply limit', async () => {
    const rig = cardRig({ config: { replyLimits: { maxChars: 200 } } });
    const { session } = await rig.open();
    await session.update('x');
    await session.finish(`ping @all ${'长'.repeat(500)}`);
    const text = rig.ctx.deliveries[0]?.text ?? '';
    expect(text).not.toContain('@all');
    expect([...text].length).toBeLessThanOrEqual(200);
    expect(text).toContain('回答过长');
  });
});

describe('DingTalk card: redelivery after a crash', () => {
  it('resumes the recorded card with the full text: no second card, one delivery', async () => {
    const rig = cardRig();
    const first = await rig.open();
    await first.session.update('half an ans');
    await rig.advance(0);
    const surface = first.recorded[0]!;
    // The first worker dies here. The redelivery answers again and overwrites the same card.
    const second = await rig.open(rig.target(), surface);
    await second.session.update('the whole');
    await rig.advance(0);
    await second.session.update('the whole answer');
    await rig.advance(300);
    await second.session.finish('the whole answer, done.');
    expect(second.recorded).toHaveLength(0);
    expect(rig.cardCalls().filter((r) => r.path === CREATE)).toHaveLength(1);
    expect(rig.ctx.deliveries).toEqual([
      expect.objectContaining({ messageId: surface.id, text: 'the whole answer, done.', stream: 'finished' }),
    ]);
  });

  it('a resume settled before any update still overwrites the card, then finishes it', async () => {
    const rig = cardRig();
    const first = await rig.open();
    await first.session.update('half');
    await rig.advance(0);
    const second = await rig.open(rig.target(), first.recorded[0]);
    await expect(second.session.finish('complete answer')).resolves.toEqual({ messageIds: [first.recorded[0]?.id] });
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'complete answer', stream: 'finished' })]);
  });

  it('creates the card when the earlier attempt recorded it but died before creating it', async () => {
    const rig = cardRig();
    const surface = { id: dingtalkOutTrackId('msg-evt-1'), openedAt: rig.clock.now - 5_000 };
    const { session } = await rig.open(rig.target(), surface);
    await session.update('answer so far');
    await rig.advance(0);
    await session.finish('answer');
    const paths = rig.cardCalls().map((r) => `${r.path}:${r.status}`);
    expect(paths.slice(0, 4)).toEqual([`${STREAMING}:400`, `${CREATE}:200`, `${INSTANCES}:200`, `${STREAMING}:200`]);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ messageId: surface.id, text: 'answer' })]);
  });

  it('leaves a card an earlier attempt already finished as it is (no error, no second message)', async () => {
    const rig = cardRig();
    const first = await rig.open();
    await first.session.update('answer');
    await first.session.finish('answer');
    const second = await rig.open(rig.target(), first.recorded[0]);
    await expect(second.session.finish('answer again')).resolves.toEqual({ messageIds: [first.recorded[0]?.id] });
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'answer', stream: 'finished' })]);
  });

  it('treats a duplicate outTrackId on a retried create (first answer lost) as the card it created', async () => {
    const rig = cardRig({ loseResponse: (path, index) => path === CREATE && index === 0 });
    const { session } = await rig.open();
    await session.update('answer');
    await rig.advance(0);
    await session.finish('answer.');
    const creates = rig.cardCalls().filter((r) => r.path === CREATE);
    expect(creates.map((r) => r.status)).toEqual([200, 400]);
    expect(JSON.parse(creates[1]!.responseBody).code).toBe('param.outTrackIdDuplicated');
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'answer.', stream: 'finished' })]);
  });
});

describe('DingTalk card: failures fall back to one plain message', () => {
  it('an unpublished template (create refused) → the answer as one sessionWebhook message, no card', async () => {
    const rig = cardRig({ config: { cardTemplateId: 'unpublished-card.schema' } });
    const { session } = await rig.open();
    await session.update('partial');
    await rig.advance(0);
    await session.update('partial more');
    await rig.advance(300);
    await session.finish('the answer');
    const creates = rig.cardCalls().filter((r) => r.path === CREATE);
    expect(creates).toHaveLength(1);
    expect(JSON.parse(creates[0]!.responseBody).code).toBe('param.templateUnpublished');
    expect(rig.cardCalls()).toHaveLength(1);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'the answer' })]);
    expect(rig.ctx.deliveries[0]).not.toHaveProperty('stream');
  });

  it('missing callbackType STREAM → streaming answers 500; the card stays the one reply and ends with the answer', async () => {
    const rig = cardRig({
      rewrite: (path, body) => {
        if (path !== CREATE) return body;
        const { callbackType: _dropped, ...rest } = body;
        return rest;
      },
    });
    const { session } = await rig.open();
    await session.update('partial');
    await rig.advance(0);
    await session.finish('the answer');
    const streams = rig.cardCalls().filter((r) => r.path === STREAMING);
    expect(streams.length).toBeGreaterThan(0);
    expect(streams.every((r) => r.status === 500)).toBe(true);
    expect(JSON.parse(streams[0]!.responseBody)).toEqual({ code: 'unknownError', message: '未知错误' });
    // A 500 leaves unknown whether the card took the text, so no plain message goes beside it: the settle's instance
    // update writes the answer onto the card.
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ stream: 'finished', text: 'the answer' })]);
  });

  it('a first write lost to a 5xx after the card is shown keeps the card: no plain message beside it', async () => {
    // createAndDeliver and the INPUTING update succeed; the first streamed write answers 500.
    const rig = cardRig({ faults: ['none', 'none', '5xx'] });
    const { session, recorded } = await rig.open();
    await session.update('partial');
    await rig.advance(0);
    expect(rig.cardCalls().find((r) => r.path === STREAMING)?.status).toBe(500);
    await session.finish('the answer');
    expect(recorded).toHaveLength(1);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ stream: 'finished', text: 'the answer' })]);
  });

  it('a first write whose token is rejected twice after the card is shown keeps the card: no plain message beside it', async () => {
    // createAndDeliver and the INPUTING update succeed; the first streamed write answers 401, and so does its retry
    // with a fresh token. The card is shown by then, so it stays the reply (a plain message would be a second one).
    const rig = cardRig({ faults: ['none', 'none', 'expired-token', 'expired-token'] });
    const { session, recorded } = await rig.open();
    await session.update('partial');
    await rig.advance(0);
    expect(
      rig
        .cardCalls()
        .filter((r) => r.path === STREAMING)
        .map((r) => r.status),
    ).toEqual([401, 401]);
    await session.finish('the answer');
    expect(recorded).toHaveLength(1);
    expect(rig.requests.some((r) => r.path === '/robot/sendBySession')).toBe(false);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ stream: 'finished', text: 'the answer' })]);
  });

  it('a content key the template lacks → param.invalidKey; the member still gets the answer', async () => {
    const rig = cardRig({ config: { cardContentKey: 'answerText' } });
    const { session } = await rig.open();
    await session.update('partial');
    await rig.advance(0);
    await session.finish('the answer');
    const stream = rig.cardCalls().find((r) => r.path === STREAMING);
    expect(stream?.status).toBe(400);
    expect(JSON.parse(stream!.responseBody).code).toBe('param.invalidKey');
    expect(rig.ctx.deliveries.at(-1)).toMatchObject({ text: 'the answer' });
  });

  it('a card delivery refused per space (deliverResults success false) falls back too', async () => {
    const rig = cardRig({
      rewrite: (path, body) => (path === CREATE ? { ...body, imGroupOpenDeliverModel: { robotCode: 'other' } } : body),
    });
    const { session } = await rig.open();
    await session.update('partial');
    await rig.advance(0);
    await session.finish('the answer');
    expect(JSON.parse(rig.cardCalls()[0]!.responseBody).result.deliverResults[0]).toMatchObject({
      success: false,
      errorMsg: 'robotCode is illegal',
    });
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'the answer' })]);
  });

  it('an interim write that fails is not retried; the next one carries the whole text', async () => {
    const rig = cardRig();
    const { session } = await rig.open();
    await session.update('one');
    await rig.advance(0);
    rig.queueFault('5xx');
    await session.update('one two');
    await rig.advance(300);
    await session.update('one two three');
    await rig.advance(300);
    await session.finish('one two three.');
    const streams = rig.cardCalls().filter((r) => r.path === STREAMING);
    expect(streams.map((r) => `${r.status}:${r.body.content}`)).toEqual([
      '200:one',
      '500:one two',
      '200:one two three',
      '200:one two three.',
    ]);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'one two three.', stream: 'finished' })]);
  });

  it('refreshes a rejected access token once and carries on', async () => {
    const rig = cardRig();
    const { session } = await rig.open();
    await session.update('one');
    await rig.advance(0);
    const tokensBefore = rig.requests.filter((r) => r.path === '/v1.0/oauth2/accessToken').length;
    rig.queueFault('expired-token');
    await session.finish('done');
    expect(rig.requests.filter((r) => r.path === '/v1.0/oauth2/accessToken')).toHaveLength(tokensBefore + 1);
    expect(rig.cardCalls().some((r) => r.status === 401)).toBe(true);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'done', stream: 'finished' })]);
  });

  it('backs off on 403 QpsLimit and still finishes', async () => {
    const rig = cardRig();
    const { session } = await rig.open();
    await session.update('one');
    await rig.advance(1_000);
    // Another reply of the same app used up this second's card-call budget.
    for (let i = 0; i < DINGTALK_CARD_QPS_LIMIT; i++) await rig.api('PUT', STREAMING, {});
    await session.finish('done');
    const throttled = rig.cardCalls().filter((r) => r.status === 403);
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0]?.responseBody).toContain('QpsLimit');
    // The limit is per second: without a Retry-After of DingTalk's own, the retry waits one second.
    expect(rig.sleeps).toContain(1000);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: 'done', stream: 'finished' })]);
  });
});

describe('DingTalk card: rate', () => {
  it('a 60 s answer updated every 50 ms stays within ~1 write per 300 ms and under the app QPS limit', async () => {
    const rig = cardRig();
    const { session } = await rig.open();
    let text = '';
    for (let t = 0; t < 60_000; t += 50) {
      text += '字';
      await session.update(text);
      await rig.advance(50);
    }
    await session.finish(`${text}。`);
    const calls = rig.cardCalls();
    expect(calls.every((r) => r.status === 200)).toBe(true);
    const elapsed = calls.at(-1)!.at - calls[0]!.at;
    expect(elapsed).toBeLessThanOrEqual(60_000);
    // create + INPUTING + one write per 300 ms + finalize + FINISHED.
    expect(calls.length).toBeLessThanOrEqual(2 + Math.ceil(60_000 / 300) + 1 + 2);
    expect(calls.length).toBeGreaterThan(150);
    const streams = calls.filter((r) => r.path === STREAMING);
    // Interim writes start ≥ 300 ms apart; the open is counted from its first request (the token fetch, before
    // create and INPUTING); the settle's write does not wait.
    const starts = [rig.requests[0]!.at, ...streams.slice(1, -1).map((r) => r.at)];
    const gaps = starts.slice(1).map((at, i) => at - starts[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(300);
    const busiestSecond = Math.max(...calls.map((c) => calls.filter((o) => o.at >= c.at && o.at < c.at + 1000).length));
    expect(busiestSecond).toBeLessThanOrEqual(DINGTALK_CARD_QPS_LIMIT);
    expect(session.platformCalls).toBe(calls.length);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: `${text}。`, stream: 'finished' })]);
  });
});
