import { SLACK_NO_STREAM_CHANNEL_PREFIX, SLACK_STREAM_LIFETIME_MS } from '../../../../sandbox/platform-emulator/slack';
import { NOW } from './helpers';
import { streamRig } from './stream-rig';

type Answer = { ok: boolean; error?: string; ts?: string };

/** The Slack emulator's streaming methods, called directly: error codes, limits and what it records. */
describe('Slack emulator: streaming methods', () => {
  const setup = (clockScale = 1) => {
    const r = streamRig({ clockScale });
    const call = async (method: string, body: object, token?: string) => {
      const response = await r.api(method, body, token);
      return { status: response.statusCode, headers: response.headers, ...(JSON.parse(response.body) as Answer) };
    };
    const recipient = { recipient_user_id: 'U0ALICE', recipient_team_id: 'T0SANDBOX' };
    const start = async (extra: object = {}) =>
      call('chat.startStream', { channel: 'C0G', thread_ts: '1.1', ...recipient, markdown_text: 'Hi ', ...extra });
    return { r, call, start, recipient };
  };

  it('records the stream when it starts, grows it on append and finishes it on stop', async () => {
    const { r, call, start } = setup();
    const started = await start();
    expect(started).toMatchObject({ ok: true, ts: expect.any(String) });
    expect(r.ctx.deliveries).toEqual([
      expect.objectContaining({ chatId: 'C0G', threadId: '1.1', text: 'Hi ', stream: 'streaming' }),
    ]);
    await call('chat.appendStream', { channel: 'C0G', ts: started.ts, markdown_text: 'there' });
    expect(r.ctx.deliveries[0]).toMatchObject({ text: 'Hi there', updates: 1, stream: 'streaming' });
    await call('chat.stopStream', { channel: 'C0G', ts: started.ts, markdown_text: '!' });
    expect(r.ctx.deliveries[0]).toMatchObject({ text: 'Hi there!', stream: 'finished' });
  });

  it('refuses a channel stream without both recipient ids, but not a DM stream', async () => {
    const { r, call, start } = setup();
    await expect(start({ recipient_user_id: undefined })).resolves.toMatchObject({
      ok: false,
      error: 'missing_recipient_user_id',
    });
    await expect(start({ recipient_team_id: undefined })).resolves.toMatchObject({
      ok: false,
      error: 'missing_recipient_team_id',
    });
    await expect(call('chat.startStream', { channel: 'D0DM', thread_ts: '1.1' })).resolves.toMatchObject({ ok: true });
    // A channel the emulator saw a DM event from counts as a DM too.
    r.target({ chatId: 'C0DMALIKE', direct: true });
    await expect(call('chat.startStream', { channel: 'C0DMALIKE', thread_ts: '1.1' })).resolves.toMatchObject({
      ok: true,
    });
  });

  it.each([
    ['no thread_ts', { thread_ts: undefined }, 'invalid_arguments'],
    ['markdown_text over 12,000 characters', { markdown_text: 'x'.repeat(12_001) }, 'msg_too_long'],
    [
      'a channel that refuses streaming',
      { channel: `${SLACK_NO_STREAM_CHANNEL_PREFIX}9` },
      'channel_type_not_supported',
    ],
    ['no channel', { channel: undefined }, 'channel_not_found'],
    ['a wrongly typed field', { markdown_text: 42 }, 'invalid_arguments'],
  ])('startStream refuses %s', async (_name, extra, error) => {
    const { r, start } = setup();
    await expect(start(extra)).resolves.toMatchObject({ status: 200, ok: false, error });
    expect(r.ctx.deliveries).toEqual([]);
  });

  it('checks the bot token and the body on every method, and answers unknown methods 404', async () => {
    const { r, call } = setup();
    await expect(call('chat.startStream', {}, 'xoxb-wrong')).resolves.toMatchObject({ error: 'invalid_auth' });
    const anonymous = await r.emulator.handleApi(
      { method: 'POST', path: '/api/chat.appendStream', query: {}, headers: {}, body: Buffer.from('{}') },
      r.ctx,
    );
    expect(JSON.parse(anonymous.body)).toMatchObject({ error: 'not_authed' });
    const notJson = await r.emulator.handleApi(
      {
        method: 'POST',
        path: '/api/chat.update',
        query: {},
        headers: { authorization: 'Bearer xoxb-test-token' },
        body: Buffer.from('{'),
      },
      r.ctx,
    );
    expect(JSON.parse(notJson.body)).toMatchObject({ error: 'invalid_json' });
    await expect(call('chat.deleteEverything', {})).resolves.toMatchObject({ status: 404, error: 'unknown_method' });
  });

  it('appendStream and stopStream refuse unknown messages, other channels, empty text and ended streams', async () => {
    const { call, start } = setup();
    const { ts } = await start();
    await expect(call('chat.appendStream', { channel: 'C0G', ts: '9.9', markdown_text: 'x' })).resolves.toMatchObject({
      error: 'message_not_found',
    });
    await expect(call('chat.appendStream', { channel: 'C0OTHER', ts, markdown_text: 'x' })).resolves.toMatchObject({
      error: 'message_not_found',
    });
    await expect(call('chat.appendStream', { channel: 'C0G', ts, markdown_text: '' })).resolves.toMatchObject({
      error: 'no_text',
    });
    await expect(call('chat.stopStream', { channel: 'C0G', ts })).resolves.toMatchObject({ ok: true });
    await expect(call('chat.stopStream', { channel: 'C0G', ts })).resolves.toMatchObject({
      error: 'message_not_in_streaming_state',
    });
    await expect(call('chat.appendStream', { channel: 'C0G', ts, markdown_text: 'x' })).resolves.toMatchObject({
      error: 'message_not_in_streaming_state',
    });
    const posted = await call('chat.postMessage', { channel: 'C0G', markdown_text: 'plain' });
    await expect(
      call('chat.appendStream', { channel: 'C0G', ts: posted.ts, markdown_text: 'x' }),
    ).resolves.toMatchObject({ error: 'message_not_in_streaming_state' });
  });

  it('ends a stream after its lifetime (scaled by clockScale) and shows it finished', async () => {
    const { r, call, start } = setup(10);
    const { ts } = await start();
    r.clock.now = NOW + SLACK_STREAM_LIFETIME_MS / 10 - 1;
    await expect(call('chat.appendStream', { channel: 'C0G', ts, markdown_text: 'a' })).resolves.toMatchObject({
      ok: true,
    });
    r.clock.now = NOW + SLACK_STREAM_LIFETIME_MS / 10;
    await expect(call('chat.appendStream', { channel: 'C0G', ts, markdown_text: 'b' })).resolves.toMatchObject({
      error: 'message_not_in_streaming_state',
    });
    expect(r.ctx.deliveries[0]).toMatchObject({ text: 'Hi a', stream: 'finished' });
  });

  it('chat.update refuses a streaming message and bad bodies, and rewrites a stopped or posted one', async () => {
    const { r, call, start } = setup();
    const { ts } = await start();
    await expect(call('chat.update', { channel: 'C0G', ts, markdown_text: 'new' })).resolves.toMatchObject({
      error: 'streaming_state_conflict',
    });
    await call('chat.stopStream', { channel: 'C0G', ts });
    await expect(call('chat.update', { channel: 'C0G', ts, markdown_text: 'a', text: 'b' })).resolves.toMatchObject({
      error: 'markdown_text_conflict',
    });
    await expect(call('chat.update', { channel: 'C0G', ts })).resolves.toMatchObject({ error: 'no_text' });
    await expect(call('chat.update', { channel: 'C0G', ts, markdown_text: 'x'.repeat(12_001) })).resolves.toMatchObject(
      { error: 'msg_too_long' },
    );
    await expect(call('chat.update', { channel: 'C0G', ts: '9.9', text: 'x' })).resolves.toMatchObject({
      error: 'message_not_found',
    });
    await expect(call('chat.update', { channel: 'C0G', ts, markdown_text: 'Rewritten' })).resolves.toMatchObject({
      ok: true,
    });
    expect(r.ctx.deliveries[0]).toMatchObject({ text: 'Rewritten', stream: 'finished' });
    const posted = await call('chat.postMessage', { channel: 'C0G', text: 'a &lt; b' });
    await call('chat.update', { channel: 'C0G', ts: posted.ts, text: 'c &amp; d' });
    expect(r.ctx.deliveries[1]).toMatchObject({ text: 'c & d', updates: 1 });
  });

  it('postMessage takes markdown_text as written, and refuses it together with text', async () => {
    const { r, call } = setup();
    await expect(call('chat.postMessage', { channel: 'C0G', text: 'a', markdown_text: 'b' })).resolves.toMatchObject({
      error: 'markdown_text_conflict',
    });
    await call('chat.postMessage', { channel: 'C0G', markdown_text: '**a &lt; b** <@U0ALICE>' });
    expect(r.ctx.deliveries).toEqual([
      expect.objectContaining({ text: '**a &lt; b** <@U0ALICE>', mentions: ['U0ALICE'] }),
    ]);
  });

  it('accepts setStatus with a thread and refuses it without', async () => {
    const { r, call } = setup();
    await expect(
      call('assistant.threads.setStatus', { channel_id: 'C0G', thread_ts: '1.1', status: 'is thinking…' }),
    ).resolves.toMatchObject({ ok: true });
    await expect(call('assistant.threads.setStatus', { channel_id: 'C0G', status: 'x' })).resolves.toMatchObject({
      error: 'invalid_arguments',
    });
    expect(r.ctx.deliveries).toEqual([]);
  });

  it.each([
    ['chat.appendStream', 100],
    ['chat.update', 50],
    ['chat.startStream', 20],
  ])('limits %s to %i calls a minute per workspace: then HTTP 429 with Retry-After', async (method, limit) => {
    const { r, call, start } = setup();
    const first = await start();
    if (method === 'chat.update') await call('chat.stopStream', { channel: 'C0G', ts: first.ts });
    const body =
      method === 'chat.startStream'
        ? { channel: 'C0G', thread_ts: '1.1', recipient_user_id: 'U', recipient_team_id: 'T' }
        : { channel: 'C0G', ts: first.ts, markdown_text: 'x' };
    const used = method === 'chat.startStream' ? 1 : 0;
    for (let i = used; i < limit; i++) {
      if (i === 10) r.clock.now = NOW + 10_000;
      await expect(call(method, body)).resolves.toMatchObject({ ok: true });
    }
    const refused = await call(method, body);
    expect(refused).toMatchObject({ status: 429, ok: false, error: 'ratelimited' });
    // The first calls (at NOW) leave the 60 s window 50 s from now.
    expect(refused.headers['retry-after']).toBe('50');
    r.clock.now = NOW + 60_001;
    await expect(call(method, body)).resolves.toMatchObject({ ok: true });
  });
});
