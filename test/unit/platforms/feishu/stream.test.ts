import { FEISHU_CARD_MIN_INTERVAL_MS, FEISHU_STREAM_PUSH_WINDOW_MS } from '#platforms/feishu/index';
import { firstMessageUuid } from '#platforms/feishu/send';
import type { OpenedSurface } from '#platforms/types';
import { cardOf, streamRig } from './stream-rig';

const CARDS = '/open-apis/cardkit/v1/cards';

describe('Feishu streaming reply on a CardKit card, against the emulator', () => {
  it('declares streaming and keeps one-shot replies when stream is not asked for', async () => {
    const rig = streamRig();
    expect(rig.platform.streaming).toBe(true);
    expect(rig.platform.idempotentSend).toBe(true);
    const session = await rig.platform.openReply(rig.target());
    await session.update('部分');
    expect(rig.requests).toHaveLength(0);
    await session.finish('完整答案');
    expect(rig.requests.map((r) => r.path)).toEqual([
      '/open-apis/auth/v3/tenant_access_token/internal',
      expect.stringMatching(/^\/open-apis\/im\/v1\/messages\/om_\w+\/reply$/),
    ]);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: '@ou_asker 完整答案' })]);
    expect(rig.ctx.deliveries[0]?.stream).toBeUndefined();
  });

  it('opens lazily: creates the card, records it, then sends it as a reply with a card-entity content', async () => {
    const rig = streamRig();
    const t = rig.target();
    const { session, recorded, visibleAt } = await rig.open(t);
    expect(rig.requests).toHaveLength(0);

    await session.update('你好');
    await rig.advance(0);

    const [token, create, send] = rig.requests;
    expect(token?.path).toBe('/open-apis/auth/v3/tenant_access_token/internal');
    expect(create).toMatchObject({ method: 'POST', path: CARDS, body: { type: 'card_json' } });
    const card = cardOf(create?.body ?? {});
    expect(card.config).toMatchObject({ streaming_mode: true, summary: { content: '[正在生成回复...]' } });
    expect(card.body.elements).toEqual([
      { tag: 'markdown', element_id: 'stream_md', content: '<at id=ou_asker></at> 你好' },
    ]);

    const cardId = String(create?.response.data?.card_id);
    // Recorded after the card exists and before the message that shows it.
    expect(recorded).toEqual([
      { surface: { id: cardId, openedAt: rig.clock.now }, requestsBefore: expect.arrayContaining([`POST ${CARDS}`]) },
    ]);
    expect(recorded[0]?.requestsBefore.some((r) => r.includes('/im/v1/messages'))).toBe(false);

    expect(send?.path).toMatch(/\/open-apis\/im\/v1\/messages\/om_\w+\/reply$/);
    expect(send?.body).toMatchObject({ msg_type: 'interactive', reply_in_thread: false });
    expect(JSON.parse(String(send?.body.content))).toEqual({ type: 'card', data: { card_id: cardId } });
    const uuid = String(send?.body.uuid);
    expect(uuid.length).toBeLessThanOrEqual(50);
    // The card is the reply's first message: it shares the one-shot reply's first part uuid (see the attempt tests).
    expect(uuid).toBe(firstMessageUuid('evt-feishu-1'));

    expect(rig.ctx.deliveries).toEqual([
      expect.objectContaining({ text: '@ou_asker 你好', stream: 'streaming', mentions: ['ou_asker'] }),
    ]);
    expect(visibleAt).toEqual([rig.clock.now]);
  });

  it('streams the whole text with increasing sequences, then finishes with a full update that closes streaming', async () => {
    const rig = streamRig();
    const { session } = await rig.open(rig.target());
    await session.update('第一段');
    await rig.advance(400);
    await session.update('第一段，第二段');
    await rig.advance(400);
    await session.update('第一段，第二段，第三段');
    await rig.advance(400);

    const puts = rig.contentPuts();
    expect(puts.map((p) => p.body.content)).toEqual([
      '<at id=ou_asker></at> 第一段，第二段',
      '<at id=ou_asker></at> 第一段，第二段，第三段',
    ]);
    const sequences = puts.map((p) => Number(p.body.sequence));
    expect(sequences[0]).toBeGreaterThanOrEqual(1);
    expect(sequences[1]).toBeGreaterThan(sequences[0] ?? 0);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 第一段，第二段，第三段', stream: 'streaming' });

    const result = await session.finish('第一段，第二段，第三段。完');
    const update = rig.requests.at(-1);
    expect(update).toMatchObject({ method: 'PUT', status: 200 });
    expect(update?.path).toMatch(/^\/open-apis\/cardkit\/v1\/cards\/\d+$/);
    expect(Number(update?.body.sequence)).toBeGreaterThan(sequences[1] ?? 0);
    expect(cardOf(update?.body ?? {}).config).toEqual({
      streaming_mode: false,
      update_multi: true,
      summary: { content: '第一段，第二段，第三段。完' },
    });
    expect(rig.ctx.deliveries).toHaveLength(1);
    expect(rig.ctx.deliveries[0]).toMatchObject({
      text: '@ou_asker 第一段，第二段，第三段。完',
      stream: 'finished',
      messageId: result.messageIds[0],
    });
    // Every HTTP attempt of the session: create, send, two content writes, the full update (the tenant token is
    // the adapter's, shared by all replies).
    expect(session.platformCalls).toBe(replyCalls(rig));
    expect(session.platformCalls).toBe(5);
    await expect(session.update('more')).rejects.toThrow(/already settled/);
  });

  it('cuts a long final summary to 50 characters and keeps mentions out of it', async () => {
    const rig = streamRig();
    const { session } = await rig.open(rig.target());
    await session.update('开始');
    await rig.advance(400);
    const long = `${'长'.repeat(80)} <at id=all></at>`;
    await session.finish(long);
    const card = cardOf(rig.requests.at(-1)?.body ?? {});
    const summary = card.config.summary?.content ?? '';
    expect([...summary]).toHaveLength(50);
    expect(summary.endsWith('…')).toBe(true);
    // The model's broadcast tag is neutralised on the card; only the asker is a live mention.
    expect(rig.ctx.deliveries[0]?.mentions).toEqual(['ou_asker']);
    expect(card.body.elements[0]?.content).not.toContain('<at id=all>');
  });

  it('sends one plain message when settled before any update (no empty card)', async () => {
    const rig = streamRig();
    const { session } = await rig.open(rig.target());
    const result = await session.finish('缓存命中的答案');
    expect(rig.requests.some((r) => r.path.startsWith(CARDS))).toBe(false);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: '@ou_asker 缓存命中的答案' })]);
    expect(rig.ctx.deliveries[0]?.stream).toBeUndefined();
    expect(result.messageIds).toEqual([rig.ctx.deliveries[0]?.messageId]);
    expect(session.platformCalls).toBe(1);
  });

  it('fail after a partial answer writes the note on the card and closes it', async () => {
    const rig = streamRig();
    const { session } = await rig.open(rig.target());
    await session.update('半截回答');
    await rig.advance(400);
    await session.fail('半截回答\n\n（模型出错，回答未完成）');
    expect(rig.ctx.deliveries).toHaveLength(1);
    expect(rig.ctx.deliveries[0]).toMatchObject({
      text: '@ou_asker 半截回答\n\n（模型出错，回答未完成）',
      stream: 'finished',
    });
  });

  it('falls back to one plain message when the card cannot be created', async () => {
    const rig = streamRig({ faults: ['5xx', '5xx', '5xx', '5xx'] });
    const { session, recorded } = await rig.open(rig.target());
    await session.update('部分');
    await rig.advance(400);
    await session.update('部分，更多');
    await rig.advance(400);
    await session.finish('完整答案');
    // Four refused create attempts (the retry policy), and no new try for the later update.
    expect(rig.requests.filter((r) => r.path === CARDS)).toHaveLength(4);
    expect(recorded).toHaveLength(0);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: '@ou_asker 完整答案' })]);
    expect(rig.ctx.deliveries[0]?.stream).toBeUndefined();
    expect(session.platformCalls).toBe(replyCalls(rig));
    expect(session.platformCalls).toBe(5);
  });

  it('never sends the card when its surface could not be recorded, and falls back to a plain message', async () => {
    const rig = streamRig();
    const { session } = await rig.open(rig.target(), { refuseRecord: true });
    await session.update('部分');
    await rig.advance(400);
    expect(rig.messageSends()).toHaveLength(0);
    await session.finish('完整答案');
    expect(rig.ctx.deliveries).toHaveLength(1);
    expect(rig.ctx.deliveries[0]?.text).toBe('@ou_asker 完整答案');
  });

  it('resumes the recorded card after a crash: same message (uuid dedup), full overwrite, no second message', async () => {
    const rig = streamRig();
    const t = rig.target();
    const first = await rig.open(t);
    await first.session.update('第一次尝试的半截');
    await rig.advance(400);
    const surface = first.recorded[0]?.surface as OpenedSurface;
    const firstSend = rig.messageSends()[0];
    // The worker dies here; SQS redelivers 30 s later and the answer is regenerated from the start.
    await rig.advance(30_000);

    const second = await rig.open(t, { resume: surface });
    await second.session.update('第二次');
    await rig.advance(400);
    expect(second.recorded).toHaveLength(0);
    expect(rig.requests.filter((r) => r.path === CARDS)).toHaveLength(1);
    const sends = rig.messageSends();
    expect(sends).toHaveLength(2);
    expect(sends[1]?.body.uuid).toBe(firstSend?.body.uuid);
    expect(sends[1]?.response.data?.message_id).toBe(firstSend?.response.data?.message_id);
    expect(rig.ctx.deliveries).toHaveLength(1);
    expect(rig.ctx.deliveries[0]?.text).toBe('@ou_asker 第二次');

    const result = await second.session.finish('第二次的完整答案');
    expect(result.messageIds).toEqual([firstSend?.response.data?.message_id]);
    expect(rig.ctx.deliveries).toHaveLength(1);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 第二次的完整答案', stream: 'finished' });
    expect(second.visibleAt).toHaveLength(1);
  });

  it('an attempt whose earlier attempt sent a plain message (it died before recording) adds no card beside it', async () => {
    const rig = streamRig();
    const t = rig.target();
    // Attempt 1: the model failed, the apology went out as one plain message, and the worker died before recording.
    const first = await rig.open(t);
    const apology = await first.session.fail('抱歉,模型暂时无法回答');
    expect(first.recorded).toHaveLength(0);
    await rig.advance(20_000);

    // Attempt 2 (a deduplicating platform's sending event is claimable again) streams a card for the same event.
    const second = await rig.open(t);
    await second.session.update('第二次的答案');
    await rig.advance(400);
    const result = await second.session.finish('第二次的完整答案');

    const sends = rig.messageSends();
    expect(sends).toHaveLength(2);
    expect(sends[1]?.body).toMatchObject({ msg_type: 'interactive', uuid: sends[0]?.body.uuid });
    expect(result.messageIds).toEqual(apology.messageIds);
    // The member sees one reply: the first attempt's.
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ text: '@ou_asker 抱歉,模型暂时无法回答' })]);
  });

  it('resume past the 1-hour uuid window (late redelivery, sweeper) updates the card already in the chat', async () => {
    const rig = streamRig();
    const t = rig.target();
    const first = await rig.open(t);
    await first.session.update('半截的回答');
    await rig.advance(400);
    const surface = first.recorded[0]?.surface as OpenedSurface;
    await rig.advance(2 * 3_600_000);

    const late = await rig.open(t, { resume: surface });
    await late.session.fail('回答中断,请重新提问。');
    expect(rig.ctx.deliveries).toHaveLength(1);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 回答中断,请重新提问。', stream: 'finished' });
  });

  it('resume sends the card when the crashed attempt recorded it but died before sending it', async () => {
    // The create passes; every attempt of the message send fails (the worker "dies" there).
    const rig = streamRig({ faults: ['none', '5xx', '5xx', '5xx', '5xx'] });
    const t = rig.target();
    const first = await rig.open(t);
    await first.session.update('半截');
    await rig.advance(400);
    const surface = first.recorded[0]?.surface as OpenedSurface;
    expect(surface.id).toMatch(/^\d+$/);
    expect(rig.ctx.deliveries).toHaveLength(0);

    const second = await rig.open(t, { resume: surface });
    await second.session.finish('完整答案');
    expect(rig.ctx.deliveries).toHaveLength(1);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 完整答案', stream: 'finished' });
  });

  it('resume settled before any update still re-attaches and writes the full text', async () => {
    const rig = streamRig();
    const t = rig.target();
    const first = await rig.open(t);
    await first.session.update('半截');
    await rig.advance(400);
    const surface = first.recorded[0]?.surface as OpenedSurface;

    const second = await rig.open(t, { resume: surface });
    const result = await second.session.finish('缓存答案');
    expect(result.messageIds).toEqual([rig.ctx.deliveries[0]?.messageId]);
    expect(rig.ctx.deliveries).toHaveLength(1);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 缓存答案', stream: 'finished' });
  });

  it('after a 300317 (a writer with a later sequence) keeps advancing, recovers, and the finish still lands', async () => {
    const rig = streamRig();
    const { session, recorded } = await rig.open(rig.target());
    await session.update('一');
    await rig.advance(400);
    const surface = recorded[0]?.surface as OpenedSurface;
    // Another writer whose clock runs 2 s ahead takes a larger sequence (e.g. a late redelivered attempt).
    const ahead = rig.clock.now - surface.openedAt + 2_000;
    const stray = await rig.emulator.handleApi(
      {
        method: 'PUT',
        path: `${CARDS}/${surface.id}/elements/stream_md/content`,
        query: {},
        headers: { authorization: `Bearer ${tokenOf(rig)}` },
        body: Buffer.from(JSON.stringify({ content: '别人写的', sequence: ahead })),
      },
      rig.ctx,
    );
    expect(JSON.parse(stray.body)).toMatchObject({ code: 0 });

    await session.update('一二');
    await rig.advance(400);
    expect(rig.contentPuts().at(-1)?.response.code).toBe(300317);
    // Each later write uses a larger sequence; once past the other writer's, writes land again.
    for (let i = 0; i < 8; i++) {
      await session.update(`一二${'三'.repeat(i + 1)}`);
      await rig.advance(400);
    }
    const codes = rig.contentPuts().map((p) => p.response.code);
    expect(codes.filter((c) => c === 300317).length).toBeGreaterThanOrEqual(2);
    expect(codes.at(-1)).toBe(0);
    const sequences = rig.contentPuts().map((p) => Number(p.body.sequence));
    expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);
    expect(new Set(sequences).size).toBe(sequences.length);

    await session.finish('最终答案');
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 最终答案', stream: 'finished' });
  });

  it('the finishing update jumps past a far-ahead sequence so the final text lands', async () => {
    const rig = streamRig();
    const { session, recorded } = await rig.open(rig.target());
    await session.update('一');
    await rig.advance(400);
    const surface = recorded[0]?.surface as OpenedSurface;
    const stray = await rig.emulator.handleApi(
      {
        method: 'PUT',
        path: `${CARDS}/${surface.id}/elements/stream_md/content`,
        query: {},
        headers: { authorization: `Bearer ${tokenOf(rig)}` },
        body: Buffer.from(JSON.stringify({ content: '别人写的', sequence: 30_000 })),
      },
      rig.ctx,
    );
    expect(JSON.parse(stray.body)).toMatchObject({ code: 0 });
    await session.finish('最终答案');
    const updates = rig.cardOps().filter((r) => /\/cards\/\d+$/.test(r.path));
    expect(updates.map((u) => u.response.code)).toEqual([300317, 300317, 0]);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 最终答案', stream: 'finished' });
  });

  it('stops writing after streaming auto-closes (300309), and the finish lands via the full update', async () => {
    // clockScale 60: the 10-minute streaming window ends after 10 s of emulator time.
    const rig = streamRig({ clockScale: 60 });
    const { session } = await rig.open(rig.target());
    await session.update('一');
    await rig.advance(400);
    await rig.advance(10_000);
    await session.update('一二');
    await rig.advance(400);
    expect(rig.contentPuts().map((p) => p.response.code)).toEqual([300309]);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 一', stream: 'finished' });

    for (let i = 0; i < 5; i++) {
      await session.update(`一二${'三'.repeat(i + 1)}`);
      await rig.advance(400);
    }
    // Closed: no more content writes.
    expect(rig.contentPuts()).toHaveLength(1);
    await session.finish('完整答案');
    expect(rig.requests.at(-1)).toMatchObject({ method: 'PUT', status: 200, response: { code: 0 } });
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 完整答案', stream: 'finished' });
  });

  it('resume of a card whose streaming closed reopens it with a full update, then streams and finishes', async () => {
    const rig = streamRig({ clockScale: 60 });
    const t = rig.target();
    const first = await rig.open(t);
    await first.session.update('半截');
    await rig.advance(400);
    const surface = first.recorded[0]?.surface as OpenedSurface;
    await rig.advance(20_000);

    const second = await rig.open(t, { resume: surface });
    await second.session.update('重来');
    await rig.advance(400);
    expect(rig.contentPuts().at(-1)?.response.code).toBe(300309);
    const reopen = rig.requests.at(-1);
    expect(reopen?.path).toBe(`${CARDS}/${surface.id}`);
    expect(cardOf(reopen?.body ?? {}).config.streaming_mode).toBe(true);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 重来', stream: 'streaming' });

    await second.session.update('重来，继续');
    await rig.advance(400);
    expect(rig.contentPuts().at(-1)?.response.code).toBe(0);
    await second.session.finish('重来，继续，完');
    expect(rig.ctx.deliveries).toHaveLength(1);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 重来，继续，完', stream: 'finished' });
  });

  it('makes no interim write after 9 minutes of streaming, and the finish still lands', async () => {
    const rig = streamRig();
    const { session } = await rig.open(rig.target());
    await session.update('一');
    await rig.advance(400);
    await rig.advance(FEISHU_STREAM_PUSH_WINDOW_MS);
    const before = rig.requests.length;
    await session.update('一二');
    await rig.advance(400);
    expect(rig.requests).toHaveLength(before);
    await session.finish('一二三');
    expect(rig.requests).toHaveLength(before + 1);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 一二三', stream: 'finished' });
  });

  it('refreshes an expired token mid-stream and retries a rate-limited finish', async () => {
    const rig = streamRig();
    const { session } = await rig.open(rig.target());
    await session.update('一');
    await rig.advance(400);
    rig.faults.push('expired-token');
    await session.update('一二');
    await rig.advance(400);
    expect(rig.requests.filter((r) => r.path.includes('tenant_access_token'))).toHaveLength(2);
    expect(rig.ctx.deliveries[0]?.text).toBe('@ou_asker 一二');

    rig.faults.push('429');
    await session.finish('一二三');
    expect(rig.sleeps).toContain(1000);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: '@ou_asker 一二三', stream: 'finished' });
  });

  it('a 60 s answer updated every 50 ms stays within 10 card operations per second', async () => {
    const rig = streamRig();
    const { session } = await rig.open(rig.target());
    let text = '';
    for (let at = 0; at < 60_000; at += 50) {
      text += '字';
      await session.update(text);
      await rig.advance(50);
    }
    await session.finish(`${text}。`);

    const ops = rig.requests.filter((r) => r.path.startsWith(CARDS));
    expect(ops.every((r) => r.status === 200)).toBe(true);
    for (const op of ops) {
      const inWindow = ops.filter((o) => o.at > op.at - 1000 && o.at <= op.at);
      expect(inWindow.length).toBeLessThanOrEqual(10);
    }
    const gaps = rig.contentPuts().map((p, i, all) => p.at - (all[i - 1]?.at ?? p.at - FEISHU_CARD_MIN_INTERVAL_MS));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(FEISHU_CARD_MIN_INTERVAL_MS);
    // ~200 writes for 60 s at 300 ms, not the 1,200 updates the model produced.
    expect(session.platformCalls).toBeLessThanOrEqual(60_000 / FEISHU_CARD_MIN_INTERVAL_MS + 5);
    expect(rig.ctx.deliveries[0]).toMatchObject({ text: `@ou_asker ${text}。`, stream: 'finished' });
  });

  it('creates the card message in the chat when the handle names no message to reply to', async () => {
    const rig = streamRig();
    const t = rig.target();
    if (t.handle.platform !== 'feishu') throw new Error('feishu handle expected');
    const { session } = await rig.open({ ...t, handle: { ...t.handle, messageId: '' } });
    await session.update('你好');
    await rig.advance(400);
    const send = rig.messageSends()[0];
    expect(send?.path).toBe('/open-apis/im/v1/messages');
    expect(send?.body).toMatchObject({ receive_id: 'oc_group', msg_type: 'interactive' });
    expect(rig.ctx.deliveries[0]).toMatchObject({ chatId: 'oc_group', stream: 'streaming' });
    expect(rig.ctx.deliveries[0]?.replyTo).toBeUndefined();
  });
});

/** HTTP calls the reply made: all but the adapter's tenant token requests. */
function replyCalls(rig: ReturnType<typeof streamRig>): number {
  return rig.requests.filter((r) => !r.path.includes('tenant_access_token')).length;
}

/** The tenant token the adapter was issued (the emulator's card routes need it for direct calls). */
function tokenOf(rig: ReturnType<typeof streamRig>): string {
  const issued = rig.requests.find((r) => r.path.includes('tenant_access_token'));
  return String((issued?.response as { tenant_access_token?: string } | undefined)?.tenant_access_token);
}
