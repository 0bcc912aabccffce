import { createFeishuEmulator } from '../../../../sandbox/platform-emulator/feishu';
import {
  FEISHU_CARD_OPS_PER_SECOND,
  FEISHU_STREAMING_WINDOW_MS,
} from '../../../../sandbox/platform-emulator/feishu-cardkit';
import { credentials, emulatorContext, NOW } from './helpers';

const CARDS = '/open-apis/cardkit/v1/cards';

function streamingCard(content = '你好', overrides: Record<string, unknown> = {}) {
  return JSON.stringify({
    schema: '2.0',
    config: { streaming_mode: true, summary: { content: '[正在生成回复...]' } },
    body: { elements: [{ tag: 'markdown', element_id: 'stream_md', content }] },
    ...overrides,
  });
}

function settledCard(content: string) {
  return JSON.stringify({
    schema: '2.0',
    config: { streaming_mode: false, summary: { content } },
    body: { elements: [{ tag: 'markdown', element_id: 'stream_md', content }] },
  });
}

/** The Feishu emulator's CardKit and message APIs called directly, as the real API would be, on a movable clock. */
async function emulated(options: { clockScale?: number } = {}) {
  const clock = { now: NOW };
  const emulator = createFeishuEmulator();
  const ctx = emulatorContext({ now: () => clock.now, clockScale: options.clockScale ?? 1 });
  let token = '';
  const call = async (method: string, path: string, body: unknown, query: Record<string, string> = {}) => {
    const response = await emulator.handleApi(
      {
        method,
        path,
        query,
        headers: { authorization: `Bearer ${token}` },
        body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8'),
      },
      ctx,
    );
    const parsed = JSON.parse(response.body) as { code: number; msg: string; data?: Record<string, string> };
    return { status: response.statusCode, headers: response.headers, ...parsed };
  };
  const { appId, appSecret } = credentials.feishu;
  const issued = await call('POST', '/open-apis/auth/v3/tenant_access_token/internal', {
    app_id: appId,
    app_secret: appSecret,
  });
  token = String((issued as unknown as { tenant_access_token: string }).tenant_access_token);

  const create = async (data = streamingCard()) => call('POST', CARDS, { type: 'card_json', data });
  const newCard = async (content?: string) => String((await create(streamingCard(content))).data?.card_id);
  const send = (content: unknown, uuid?: string) =>
    call(
      'POST',
      '/open-apis/im/v1/messages',
      { receive_id: 'oc_group', msg_type: 'interactive', content: JSON.stringify(content), uuid },
      { receive_id_type: 'chat_id' },
    );
  const sendCard = (cardId: string, uuid?: string) => send({ type: 'card', data: { card_id: cardId } }, uuid);
  const put = (cardId: string, content: string, sequence: unknown) =>
    call('PUT', `${CARDS}/${cardId}/elements/stream_md/content`, { content, sequence });
  const update = (cardId: string, data: string, sequence: number) =>
    call('PUT', `${CARDS}/${cardId}`, { card: { type: 'card_json', data }, sequence });
  const settings = (cardId: string, value: object, sequence: number) =>
    call('PATCH', `${CARDS}/${cardId}/settings`, { settings: JSON.stringify(value), sequence });
  return { clock, ctx, call, create, newCard, send, sendCard, put, update, settings };
}

describe('Feishu emulator: CardKit cards', () => {
  it('records the card when its message is sent, updates it per accepted write, finishes it on a full update', async () => {
    const e = await emulated();
    const cardId = await e.newCard('<at id=ou_a></at> 你好');
    expect(e.ctx.deliveries).toHaveLength(0);
    const sent = await e.sendCard(cardId, 'u-1');
    expect(sent).toMatchObject({ code: 0, data: { chat_id: 'oc_group' } });
    expect(e.ctx.deliveries).toEqual([
      expect.objectContaining({
        chatId: 'oc_group',
        text: '@ou_a 你好',
        stream: 'streaming',
        mentions: ['ou_a'],
        messageId: sent.data?.message_id,
      }),
    ]);
    expect(await e.put(cardId, '你好，世界', 1)).toMatchObject({ code: 0 });
    expect(e.ctx.deliveries[0]).toMatchObject({ text: '你好，世界', stream: 'streaming', updates: 1 });
    expect(await e.update(cardId, settledCard('完'), 2)).toMatchObject({ code: 0 });
    expect(e.ctx.deliveries[0]).toMatchObject({ text: '完', stream: 'finished', updates: 2 });
  });

  it('refuses bad card JSON: not 2.0, unparseable, update_multi false, duplicate element ids', async () => {
    const e = await emulated();
    expect(await e.create(JSON.stringify({ schema: '1.0', body: { elements: [] } }))).toMatchObject({
      status: 400,
      code: 99992402,
    });
    expect(await e.create('{not json')).toMatchObject({ status: 400, code: 99992402 });
    expect(await e.create(streamingCard('x', { config: { update_multi: false } }))).toMatchObject({ code: 99992402 });
    const twice = JSON.stringify({
      schema: '2.0',
      body: {
        elements: [
          { tag: 'markdown', element_id: 'a', content: '1' },
          { tag: 'markdown', element_id: 'a', content: '2' },
        ],
      },
    });
    expect(await e.create(twice)).toMatchObject({ status: 400, code: 300301 });
    // The card JSON must travel as a string under `data` (a wrapped object is refused).
    expect(await e.call('POST', CARDS, { type: 'card_json', data: { schema: '2.0' } })).toMatchObject({
      code: 99992402,
    });
  });

  it('message content must be {"type":"card","data":{"card_id"}}; an entity is sent once; uuid deduplicates', async () => {
    const e = await emulated();
    const cardId = await e.newCard();
    expect(await e.send({ card_id: cardId }, 'u-bare')).toMatchObject({ status: 400, code: 200621 });
    expect(await e.sendCard('7000000000000000000', 'u-missing')).toMatchObject({ status: 400, code: 230099 });
    const first = await e.sendCard(cardId, 'u-1');
    const again = await e.sendCard(cardId, 'u-1');
    expect(again).toMatchObject({ code: 0, data: { message_id: first.data?.message_id } });
    expect(await e.sendCard(cardId, 'u-other')).toMatchObject({ status: 400, code: 230099 });
    expect(e.ctx.deliveries).toHaveLength(1);
  });

  it('uuid dedup lasts one hour (scaled by clockScale); afterwards the same uuid sends a new message', async () => {
    const e = await emulated({ clockScale: 60 });
    const text = (t: string) =>
      e.call(
        'POST',
        '/open-apis/im/v1/messages',
        { receive_id: 'oc_group', msg_type: 'text', content: JSON.stringify({ text: t }), uuid: 'u-1' },
        { receive_id_type: 'chat_id' },
      );
    const first = await text('一');
    e.clock.now += 59_000;
    expect((await text('二')).data?.message_id).toBe(first.data?.message_id);
    e.clock.now += 1_000;
    expect((await text('三')).data?.message_id).not.toBe(first.data?.message_id);
    expect(e.ctx.deliveries.map((d) => d.text)).toEqual(['一', '三']);
  });

  it('sequence must be a positive int larger than the last one of any card op (300317)', async () => {
    const e = await emulated();
    const cardId = await e.newCard();
    await e.sendCard(cardId, 'u-1');
    expect(await e.put(cardId, 'zero', 0)).toMatchObject({ status: 400, code: 300317 });
    expect(await e.put(cardId, 'negative', -3)).toMatchObject({ code: 300317 });
    expect(await e.put(cardId, 'fraction', 1.5)).toMatchObject({ code: 99992402 });
    expect(await e.put(cardId, 'five', 5)).toMatchObject({ code: 0 });
    expect(await e.put(cardId, 'five again', 5)).toMatchObject({ code: 300317 });
    expect(await e.put(cardId, 'four', 4)).toMatchObject({ code: 300317 });
    // Shared with full updates and settings (a second later: the card allows 10 ops per second).
    e.clock.now += 1000;
    expect(await e.update(cardId, streamingCard('via update'), 5)).toMatchObject({ code: 300317 });
    expect(await e.update(cardId, streamingCard('via update'), 9)).toMatchObject({ code: 0 });
    expect(await e.put(cardId, 'eight', 8)).toMatchObject({ code: 300317 });
    expect(await e.settings(cardId, { config: { streaming_mode: true } }, 9)).toMatchObject({ code: 300317 });
    expect(e.ctx.deliveries[0]?.text).toBe('via update');
    expect(await e.put(cardId, 'ten', 10)).toMatchObject({ code: 0 });
    expect(e.ctx.deliveries[0]?.text).toBe('ten');
  });

  it('closes streaming 10 minutes (scaled) after it was turned on: 300309, finished; a full update still lands', async () => {
    const e = await emulated({ clockScale: 60 });
    const cardId = await e.newCard();
    await e.sendCard(cardId, 'u-1');
    e.clock.now += FEISHU_STREAMING_WINDOW_MS / 60 - 1;
    expect(await e.put(cardId, 'just in time', 1)).toMatchObject({ code: 0 });
    e.clock.now += 1;
    expect(await e.put(cardId, 'too late', 2)).toMatchObject({ status: 400, code: 300309 });
    expect(e.ctx.deliveries[0]).toMatchObject({ text: 'just in time', stream: 'finished' });
    expect(await e.update(cardId, settledCard('final'), 3)).toMatchObject({ code: 0 });
    expect(e.ctx.deliveries[0]).toMatchObject({ text: 'final', stream: 'finished' });
    // A full update that turns streaming on again restarts the window.
    expect(await e.update(cardId, streamingCard('again'), 4)).toMatchObject({ code: 0 });
    expect(e.ctx.deliveries[0]).toMatchObject({ stream: 'streaming' });
    expect(await e.put(cardId, 'streams again', 5)).toMatchObject({ code: 0 });
  });

  it('settings closes streaming only under the config wrapper, and refuses summary (2200)', async () => {
    const e = await emulated();
    const cardId = await e.newCard();
    await e.sendCard(cardId, 'u-1');
    // Without `config` the call succeeds but does nothing (doc §1.1 step 4).
    expect(await e.settings(cardId, { streaming_mode: false }, 1)).toMatchObject({ code: 0 });
    expect(await e.put(cardId, 'still streaming', 2)).toMatchObject({ code: 0 });
    expect(await e.settings(cardId, { config: { summary: { content: 'x' } } }, 3)).toMatchObject({ code: 2200 });
    expect(await e.settings(cardId, { config: { streaming_mode: false } }, 4)).toMatchObject({ code: 0 });
    expect(e.ctx.deliveries[0]).toMatchObject({ text: 'still streaming', stream: 'finished' });
    expect(await e.put(cardId, 'closed', 5)).toMatchObject({ code: 300309 });
  });

  it('allows 10 operations per card per second (unscaled), then answers HTTP 429 / 99991400', async () => {
    const e = await emulated({ clockScale: 60 });
    const cardId = await e.newCard();
    const other = await e.newCard();
    for (let i = 1; i <= FEISHU_CARD_OPS_PER_SECOND; i++) {
      expect(await e.put(cardId, `#${i}`, i)).toMatchObject({ code: 0 });
    }
    const limited = await e.put(cardId, '#11', 11);
    expect(limited).toMatchObject({ status: 429, code: 99991400, msg: 'request trigger frequency limit' });
    // Per card: another card is not limited.
    expect(await e.put(other, 'other', 1)).toMatchObject({ code: 0 });
    e.clock.now += 1000;
    expect(await e.put(cardId, '#12', 12)).toMatchObject({ code: 0 });
  });

  it('answers unknown cards and elements, and checks the token on card routes', async () => {
    const e = await emulated();
    expect(await e.put('7999', 'x', 1)).toMatchObject({ status: 400, code: 300302 });
    const cardId = await e.newCard();
    expect(
      await e.call('PUT', `${CARDS}/${cardId}/elements/nope/content`, { content: 'x', sequence: 1 }),
    ).toMatchObject({
      code: 300303,
    });
    const emulator = createFeishuEmulator();
    const unauthorised = await emulator.handleApi(
      { method: 'POST', path: CARDS, query: {}, headers: {}, body: Buffer.from('{}') },
      e.ctx,
    );
    expect(JSON.parse(unauthorised.body)).toMatchObject({ code: 99991661 });
  });
});
