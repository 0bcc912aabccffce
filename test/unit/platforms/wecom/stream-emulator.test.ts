import type { ChatPlatform } from '#platforms/types';
import { decryptMessage, deriveAesKey } from '#platforms/wecom/biz-msg-crypt';
import { createWeComPlatform, STREAM_WINDOW_MS } from '#platforms/wecom/index';
import type { EmulatedApiResponse, EmulatedRequest } from '../../../../sandbox/platform-emulator/types';
import { buildEncryptedWeComRequest, createWeComEmulator } from '../../../../sandbox/platform-emulator/wecom';
import { createStreamPoller, WECOM_MAX_STREAMS_PER_MEMBER } from '../../../../sandbox/platform-emulator/wecom-stream';
import { emulatorContext, NOW, toRaw } from '../dingtalk/helpers';
import { encodingAesKey, MemorySnapshots, ON, token } from './stream-harness';

/**
 * The emulator plays WeCom's refresh loop against the real adapter: its refresh callbacks go through `parse` and
 * `answerStreamRefresh`, and a scripted "worker" writes snapshots as the fake clock passes.
 */
function rig(options: { clockScale?: number; tamperAnswers?: boolean } = {}) {
  const clock = { now: NOW };
  const store = new MemorySnapshots();
  const platform: ChatPlatform = createWeComPlatform(
    { token, encodingAesKey, streaming: ON },
    { fetch, now: () => clock.now, sleep: async () => {}, streamSnapshots: store },
  );
  const refreshes: EmulatedRequest[] = [];
  const ctx = {
    ...emulatorContext('http://127.0.0.1:9', { now: () => clock.now }),
    clockScale: options.clockScale ?? 1,
    postWebhook: async (request: EmulatedRequest): Promise<EmulatedApiResponse> => {
      refreshes.push(request);
      const parsed = platform.parse(toRaw(request), clock.now);
      if (parsed.kind !== 'stream_refresh') return { statusCode: 400, headers: {}, body: '' };
      const answer = await platform.answerStreamRefresh!(parsed.streamId, clock.now);
      return options.tamperAnswers ? { ...answer, body: answer.body.replace(/"nonce":"/, '"nonce":"x') } : answer;
    },
  };
  /** Writes done by the "worker" when the clock reaches their time. */
  const script: { at: number; content: string; finish?: boolean }[] = [];
  const sleep = async (ms: number) => {
    clock.now += ms;
    for (const step of script.filter((s) => s.at <= clock.now)) {
      script.splice(script.indexOf(step), 1);
      await store.put(streamOf(), { content: step.content, finish: step.finish ?? false, updatedAt: step.at });
    }
  };
  let lastStream = '';
  const streamOf = () => lastStream;
  const poller = createStreamPoller({ sleep });
  /** A member's message delivered to the adapter; the adapter's ack goes to the poller, as the sandbox does. */
  const message = (userId = 'zhangsan') => {
    const request = createWeComEmulator().buildMessageEvent({ chatId: 'wr-team', userId, text: '你好' }, ctx);
    const parsed = platform.parse(toRaw(request), clock.now);
    if (parsed.kind !== 'message' || !parsed.ack) throw new Error('expected a message with an ack');
    const handle = parsed.message.replyHandle;
    lastStream = handle.platform === 'wecom' ? (handle.streamId ?? '') : '';
    return poller.start(request, parsed.ack, ctx, (payload, c) => buildEncryptedWeComRequest(payload, c));
  };
  return { clock, store, ctx, refreshes, script, message, streamOf };
}

describe('WeCom emulator: the stream refresh loop', () => {
  it('records at the first non-empty snapshot, updates on change, and stops at finish', async () => {
    const r = rig();
    r.script.push(
      { at: NOW + 2500, content: '正在' },
      { at: NOW + 4200, content: '正在查询' },
      { at: NOW + 6100, content: '正在查询：已完成。', finish: true },
    );
    await r.message();
    expect(r.ctx.deliveries).toEqual([
      expect.objectContaining({ chatId: 'wr-team', text: '正在查询：已完成。', stream: 'finished', updates: 3 }),
    ]); // two text changes, then the stream closing
    // Polls at 1 s intervals until the refresh that carried finish (t = 7 s), then no more.
    expect(r.refreshes).toHaveLength(7);
  });

  it('posts signed, encrypted refresh callbacks naming the stream (doc path/100719 shape)', async () => {
    const r = rig();
    r.script.push({ at: NOW + 1000, content: 'done', finish: true });
    await r.message();
    const body = JSON.parse(r.refreshes[0]!.body.toString('utf8')) as { encrypt: string };
    const payload = JSON.parse(decryptMessage(deriveAesKey(encodingAesKey, 'k'), body.encrypt, ''));
    expect(payload).toMatchObject({ msgtype: 'stream', stream: { id: r.streamOf() }, from: { userid: 'zhangsan' } });
    expect(r.refreshes[0]!.query).toEqual(
      expect.objectContaining({ msg_signature: expect.any(String), timestamp: expect.any(String) }),
    );
  });

  it('gives up after 6 minutes without finish and marks the shown stream failed', async () => {
    const r = rig();
    r.script.push({ at: NOW + 3000, content: 'stuck half-way' });
    await r.message();
    expect(r.clock.now - NOW).toBe(STREAM_WINDOW_MS);
    expect(r.refreshes).toHaveLength(STREAM_WINDOW_MS / 1000);
    expect(r.ctx.deliveries).toEqual([expect.objectContaining({ text: 'stuck half-way', stream: 'failed' })]);
  });

  it('runs the window clockScale times faster', async () => {
    const r = rig({ clockScale: 60 });
    await r.message();
    expect(r.refreshes).toHaveLength(6);
    expect(r.ctx.deliveries).toEqual([]);
  });

  it('ignores answers whose signature does not verify (nothing shown, polling goes on)', async () => {
    const r = rig({ tamperAnswers: true, clockScale: 60 });
    r.script.push({ at: NOW + 1000, content: 'hidden', finish: true });
    await r.message();
    expect(r.ctx.deliveries).toEqual([]);
    expect(r.refreshes).toHaveLength(6);
  });

  it(`polls at most ${WECOM_MAX_STREAMS_PER_MEMBER} streams per member at once`, async () => {
    const r = rig({ clockScale: 60 });
    const polls = [r.message(), r.message(), r.message(), r.message(), r.message('lisi')];
    await Promise.all(polls);
    const key = deriveAesKey(encodingAesKey, 'k');
    const polled = new Set(
      r.refreshes.map((req) => {
        const { encrypt } = JSON.parse(req.body.toString('utf8')) as { encrypt: string };
        const payload = JSON.parse(decryptMessage(key, encrypt, '')) as {
          from: { userid: string };
          stream: { id: string };
        };
        return `${payload.from.userid}/${payload.stream.id}`;
      }),
    );
    // None of the streams ever finishes here, so no slot frees within zhangsan's fourth stream's window: three of his
    // four are polled, and lisi's one. (A slot that frees in time is taken by the waiting stream: the bad-input
    // reliability run sends many messages per member and each is answered once.)
    expect([...polled].filter((p) => p.startsWith('zhangsan/'))).toHaveLength(3);
    expect([...polled].filter((p) => p.startsWith('lisi/'))).toHaveLength(1);
  });

  it('the emulator hands webhook answers to the poller (onWebhookResponse)', () => {
    expect(createWeComEmulator().onWebhookResponse).toEqual(expect.any(Function));
  });
});
