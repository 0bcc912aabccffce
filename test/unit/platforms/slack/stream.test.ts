import { SLACK_NO_STREAM_CHANNEL_PREFIX } from '../../../../sandbox/platform-emulator/slack';
import { NOW } from './helpers';
import { streamRig, tick } from './stream-rig';

const MENTION = '<@U0ALICE> ';

describe('Slack streaming replies against the emulator', () => {
  it('announces at once, makes no visible call before the first update, and settles at once as one plain message', async () => {
    const r = streamRig();
    const { session, recorded } = await r.open();
    await tick();
    expect(r.methods()).toEqual(['assistant.threads.setStatus']);
    expect(r.calls[0]?.body).toEqual({
      channel_id: 'C0GROUP',
      thread_ts: expect.stringMatching(/^\d+\.\d+$/),
      status: 'is thinking…',
    });
    await expect(session.finish('42 (a < b)')).resolves.toEqual({ messageIds: [expect.any(String)] });
    expect(r.methods()).toEqual(['assistant.threads.setStatus', 'chat.postMessage']);
    expect(recorded).toEqual([]);
    expect(r.ctx.deliveries).toEqual([expect.objectContaining({ text: `${MENTION}42 (a < b)` })]);
    expect(r.ctx.deliveries[0]?.stream).toBeUndefined();
    expect(session.platformCalls).toBe(2);
  });

  it('streams a group answer: startStream to the member, tails appended ≥ 1 s apart, stopStream with the rest', async () => {
    const r = streamRig();
    const t = r.target();
    const { session, recorded, visibleAt } = await r.open(t);
    await session.update('The answer');
    await r.advance(0);
    const [start] = r.callsTo('chat.startStream');
    const handle = t.handle.platform === 'slack' ? t.handle : undefined;
    expect(start?.body).toEqual({
      channel: 'C0GROUP',
      thread_ts: handle?.messageTs,
      recipient_user_id: 'U0ALICE',
      recipient_team_id: 'T0SANDBOX',
      // The unfinished last word waits for the next token.
      markdown_text: `${MENTION}The `,
    });
    const ts = r.ctx.deliveries[0]?.messageId;
    expect(recorded).toEqual([{ id: ts, openedAt: NOW }]);
    expect(visibleAt).toEqual([NOW]);
    expect(r.ctx.deliveries[0]).toMatchObject({ stream: 'streaming', threadId: handle?.messageTs });

    await session.update('The answer is');
    await session.update('The answer is 42, because');
    await r.advance(300);
    expect(r.callsTo('chat.appendStream')).toHaveLength(0);
    await r.advance(700);
    expect(r.callsTo('chat.appendStream').map((c) => c.body)).toEqual([
      { channel: 'C0GROUP', ts, markdown_text: 'answer is 42, ' },
    ]);
    await expect(session.finish('The answer is 42, because 6 × 7.')).resolves.toEqual({ messageIds: [ts] });
    expect(r.callsTo('chat.stopStream').map((c) => c.body)).toEqual([
      { channel: 'C0GROUP', ts, markdown_text: 'because 6 × 7.' },
    ]);
    expect(r.callsTo('chat.update')).toHaveLength(0);
    expect(r.ctx.deliveries).toHaveLength(1);
    expect(r.ctx.deliveries[0]).toMatchObject({
      text: `${MENTION}The answer is 42, because 6 × 7.`,
      stream: 'finished',
      mentions: ['U0ALICE'],
    });
    const appends = r.callsTo('chat.appendStream').map((c) => c.at);
    expect(appends.every((at, i) => i === 0 || at - (appends[i - 1] ?? 0) >= 1000)).toBe(true);
  });

  it('streams a DM without recipient ids, replying to the member message, without a mention', async () => {
    const r = streamRig();
    const t = r.target({ chatId: 'D0ALICE', direct: true });
    const { session } = await r.open(t);
    await session.update('Hello there');
    await session.finish('Hello there!');
    const [start] = r.callsTo('chat.startStream');
    expect(start?.body).not.toHaveProperty('recipient_user_id');
    expect(start?.body).not.toHaveProperty('recipient_team_id');
    expect(start?.body.thread_ts).toBe(t.handle.platform === 'slack' ? t.handle.messageTs : 'none');
    expect(r.ctx.deliveries).toEqual([expect.objectContaining({ text: 'Hello there!', stream: 'finished' })]);
  });

  it('replaces the streamed text when the final answer does not extend it (a refusal): stopStream, then chat.update', async () => {
    const r = streamRig();
    const { session } = await r.open();
    await session.update('Sure, the secret is ');
    await r.advance(0);
    await session.finish('Sorry, I cannot help with that.');
    expect(r.methods().slice(1)).toEqual(['chat.startStream', 'chat.stopStream', 'chat.update']);
    expect(r.callsTo('chat.stopStream')[0]?.body).not.toHaveProperty('markdown_text');
    expect(r.callsTo('chat.update')[0]?.body).toMatchObject({
      markdown_text: `${MENTION}Sorry, I cannot help with that.`,
    });
    expect(r.ctx.deliveries).toEqual([
      expect.objectContaining({ text: `${MENTION}Sorry, I cannot help with that.`, stream: 'finished' }),
    ]);
  });

  it('waits for the settle when an earlier token changed mid-stream, instead of appending a wrong tail', async () => {
    const r = streamRig();
    const { session } = await r.open();
    await session.update('one two three ');
    await r.advance(0);
    await session.update('one TWO three four five ');
    await r.advance(2000);
    expect(r.callsTo('chat.appendStream')).toHaveLength(0);
    await session.finish('one TWO three four five six');
    expect(r.ctx.deliveries[0]?.text).toBe(`${MENTION}one TWO three four five six`);
    expect(r.callsTo('chat.update')).toHaveLength(1);
  });

  it('fail ends the stream with the partial answer and the note (appended) or the note alone (rewritten)', async () => {
    const partial = streamRig();
    const a = await partial.open();
    await a.session.update('Half an answer ');
    await partial.advance(0);
    await a.session.fail('Half an answer … (model error)');
    expect(partial.callsTo('chat.stopStream')[0]?.body.markdown_text).toBe('… (model error)');
    expect(partial.ctx.deliveries[0]).toMatchObject({
      text: `${MENTION}Half an answer … (model error)`,
      stream: 'finished',
    });

    const note = streamRig();
    const b = await note.open();
    await b.session.update('Half an answer ');
    await note.advance(0);
    await b.session.fail('The model could not answer.');
    expect(note.ctx.deliveries).toEqual([
      expect.objectContaining({ text: `${MENTION}The model could not answer.`, stream: 'finished' }),
    ]);
  });

  it('neutralises broadcast and mention syntax in streamed markdown: only the asker is mentioned', async () => {
    const r = streamRig();
    const { session } = await r.open();
    await session.update('Ping <!channel> and <@U0BOB> and @here now ');
    await r.advance(0);
    await session.finish('Ping <!channel> and <@U0BOB> and @here now, done <!subteam^S1>.');
    const [delivery] = r.ctx.deliveries;
    expect(delivery?.mentions).toEqual(['U0ALICE']);
    expect(delivery?.text).toBe(`${MENTION}Ping ＜!channel> and ＜@U0BOB> and ＠here now, done ＜!subteam^S1>.`);
  });

  describe('fallback to chat.postMessage + chat.update', () => {
    it('is used when startStream is refused, editing the message at most every 2 s and finishing by chat.update', async () => {
      const r = streamRig();
      const { session, recorded } = await r.open(r.target({ chatId: `${SLACK_NO_STREAM_CHANNEL_PREFIX}1` }));
      await session.update('Working on it ');
      await r.advance(0);
      expect(r.callsTo('chat.startStream')[0]?.error).toBe('channel_type_not_supported');
      const [post] = r.callsTo('chat.postMessage');
      expect(post?.body).toMatchObject({ markdown_text: `${MENTION}Working on it `, thread_ts: expect.any(String) });
      expect(recorded).toEqual([{ id: r.ctx.deliveries[0]?.messageId, openedAt: NOW }]);
      await session.update('Working on it still ');
      await r.advance(1000);
      expect(r.callsTo('chat.update')).toHaveLength(0);
      await r.advance(1000);
      expect(r.callsTo('chat.update')).toHaveLength(1);
      await session.finish('Done: 42');
      expect(r.callsTo('chat.update').map((c) => c.body.markdown_text)).toEqual([
        `${MENTION}Working on it still `,
        `${MENTION}Done: 42`,
      ]);
      expect(r.callsTo('chat.stopStream')).toHaveLength(0);
      expect(r.ctx.deliveries).toHaveLength(1);
      expect(r.ctx.deliveries[0]).toMatchObject({ text: `${MENTION}Done: 42`, updates: 2 });
    });

    it('skips startStream when the handle has no recipient ids (a message queued before streaming)', async () => {
      const r = streamRig();
      const { session } = await r.open({
        handle: { platform: 'slack', channel: 'C0GROUP', threadTs: '1714550000.000100' },
        format: 'markdown',
        idempotencyKey: 'Ev0OLD',
      });
      await session.update('Old handle ');
      await session.finish('Old handle, new answer');
      expect(r.methods()).toEqual(['assistant.threads.setStatus', 'chat.postMessage', 'chat.update']);
      expect(r.ctx.deliveries).toEqual([expect.objectContaining({ text: 'Old handle, new answer' })]);
    });

    it('does not post a message when startStream got no answer (a stream may exist): one plain message at settle', async () => {
      const r = streamRig({ faults: ['none', '5xx'] });
      const { session, recorded } = await r.open();
      await session.update('Lost ');
      await r.advance(0);
      expect(r.callsTo('chat.startStream')).toHaveLength(1);
      expect(r.callsTo('chat.postMessage')).toHaveLength(0);
      await session.finish('Lost start, whole answer');
      expect(recorded).toEqual([]);
      expect(r.callsTo('chat.startStream')).toHaveLength(1);
      expect(r.ctx.deliveries).toEqual([expect.objectContaining({ text: `${MENTION}Lost start, whole answer` })]);
    });
  });

  it('stops the stream it could not record, and sends the answer as one plain message at settle', async () => {
    const r = streamRig();
    const session = await r.platform.openReply(r.target(), {
      stream: true,
      onOpened: async () => {
        throw new Error('conditional write lost');
      },
    });
    await session.update('Unrecorded ');
    await r.advance(0);
    expect(r.ctx.deliveries[0]?.stream).toBe('finished');
    await session.finish('Unrecorded answer');
    expect(r.methods().slice(1)).toEqual(['chat.startStream', 'chat.stopStream', 'chat.postMessage']);
  });

  describe('resume after a crash', () => {
    it('stops the earlier stream and overwrites it whole: still one message', async () => {
      const r = streamRig();
      const t = r.target();
      const first = await r.open(t);
      await first.session.update('Partial answer from the first ');
      await r.advance(0);
      const surface = first.recorded[0];
      if (!surface) throw new Error('the first attempt recorded no surface');
      // The worker dies here; the redelivery answers again from the start.
      const second = await r.open(t, surface);
      await second.session.update('Fresh answer ');
      await r.advance(0);
      expect(r.methods().slice(-2)).toEqual(['chat.stopStream', 'chat.update']);
      await r.advance(2000);
      await second.session.update('Fresh answer, complete ');
      await r.advance(2000);
      await second.session.finish('Fresh answer, complete.');
      expect(second.recorded).toEqual([]);
      expect(r.callsTo('chat.startStream')).toHaveLength(1);
      expect(r.callsTo('chat.postMessage')).toHaveLength(0);
      expect(r.ctx.deliveries).toHaveLength(1);
      expect(r.ctx.deliveries[0]).toMatchObject({
        messageId: surface.id,
        text: `${MENTION}Fresh answer, complete.`,
        stream: 'finished',
      });
    });

    it('ignores "not in streaming state" for an already stopped message, and settles at once with one edit', async () => {
      const r = streamRig();
      const t = r.target();
      const first = await r.open(t);
      await first.session.update('Everything ');
      await first.session.finish('Everything was said.');
      const surface = first.recorded[0];
      if (!surface) throw new Error('no surface');
      const second = await r.open(t, surface);
      await expect(second.session.finish('Everything was said again.')).resolves.toEqual({ messageIds: [surface.id] });
      expect(r.callsTo('chat.stopStream').map((c) => c.error)).toEqual([undefined, 'message_not_in_streaming_state']);
      expect(r.callsTo('chat.update')).toHaveLength(1);
      expect(r.ctx.deliveries).toEqual([expect.objectContaining({ text: `${MENTION}Everything was said again.` })]);
    });
  });

  describe('errors and limits', () => {
    it('does not wait out a throttled startStream (Tier 2): the answer goes as one plain message, no edits', async () => {
      const r = streamRig({ faults: ['none', '429'] });
      const { session, recorded } = await r.open();
      await session.update('First ');
      await r.advance(0);
      expect(r.callsTo('chat.startStream').map((c) => c.status)).toEqual([429]);
      expect(r.sleeps).toEqual([]);
      // A workspace out of stream starts is short of chat.update too: nothing shows until the answer is whole.
      expect(r.callsTo('chat.postMessage')).toHaveLength(0);
      expect(recorded).toEqual([]);
      await session.finish('First second');
      expect(r.callsTo('chat.postMessage')).toHaveLength(1);
      expect(r.callsTo('chat.update')).toHaveLength(0);
      expect(r.ctx.deliveries).toEqual([expect.objectContaining({ text: `${MENTION}First second` })]);
    });

    it('honours 429 + Retry-After on an append and appends the tail exactly once', async () => {
      const r = streamRig({ faults: ['none', 'none', '429'] });
      const { session } = await r.open();
      await session.update('First ');
      await r.advance(0);
      await session.update('First second ');
      await r.advance(1000);
      await r.advance(1000);
      expect(r.callsTo('chat.appendStream').map((c) => c.status)).toEqual([429, 200]);
      expect(r.sleeps).toContain(1000);
      await session.finish('First second third');
      expect(r.ctx.deliveries[0]?.text).toBe(`${MENTION}First second third`);
    });

    it("waits out the workspace's chat.update budget (Tier 3) for the Retry-After Slack names", async () => {
      const r = streamRig();
      const post = JSON.parse((await r.api('chat.postMessage', { channel: 'C0GROUP', text: 'x' })).body) as {
        ts: string;
      };
      for (let i = 0; i < 50; i++) await r.api('chat.update', { channel: 'C0GROUP', ts: post.ts, text: `x${i}` });
      const { session } = await r.open(r.target({ chatId: `${SLACK_NO_STREAM_CHANNEL_PREFIX}2` }));
      await session.update('Busy workspace ');
      await r.advance(0);
      await session.finish('Busy workspace, answered');
      const updates = r.callsTo('chat.update');
      // Slack names 60 s; one wait is capped at 30 s (a worker never sleeps past its timeout), so it asks twice.
      expect(updates.map((c) => c.status)).toEqual([429, 429, 200]);
      expect(r.sleeps).toEqual([30_000, 30_000]);
      expect(updates[2]?.at).toBe(NOW + 60_000);
      expect(r.ctx.deliveries.at(-1)?.text).toBe(`${MENTION}Busy workspace, answered`);
    });

    it('never repeats an append whose answer was lost; the settle rewrites the message whole', async () => {
      const r = streamRig({ loseResponse: (method, i) => method === 'chat.appendStream' && i === 0 });
      const { session } = await r.open();
      await session.update('One ');
      await r.advance(0);
      await session.update('One two ');
      await r.advance(1000);
      await session.update('One two three ');
      await r.advance(1000);
      expect(r.callsTo('chat.appendStream')).toHaveLength(1);
      await session.finish('One two three four');
      expect(r.methods().slice(-2)).toEqual(['chat.stopStream', 'chat.update']);
      expect(r.ctx.deliveries[0]?.text).toBe(`${MENTION}One two three four`);
    });

    it('switches to chat.update when Slack has ended the stream (its ~5 min lifetime, scaled)', async () => {
      const r = streamRig({ clockScale: 100 });
      const { session } = await r.open();
      await session.update('Long ');
      await r.advance(0);
      await r.advance(3000);
      await session.update('Long answer ');
      await r.advance(0);
      expect(r.callsTo('chat.appendStream')[0]?.error).toBe('message_not_in_streaming_state');
      expect(r.callsTo('chat.update')).toHaveLength(1);
      await r.advance(2000);
      await session.finish('Long answer, done');
      expect(r.callsTo('chat.stopStream')).toHaveLength(0);
      expect(r.ctx.deliveries[0]).toMatchObject({ text: `${MENTION}Long answer, done`, stream: 'finished' });
    });

    it('keeps a 60 s answer updated every 50 ms within the Tier limits, appends ≥ 1 s apart', async () => {
      const r = streamRig({ sleepSpins: 100_000 });
      const { session } = await r.open();
      let text = '';
      for (let ms = 0; ms < 60_000; ms += 50) {
        text += ms % 250 === 200 ? ' ' : 'a';
        await session.update(text);
        await r.advance(50);
      }
      await session.finish(`${text}end`);
      const appends = r.callsTo('chat.appendStream');
      expect(r.calls.filter((c) => c.status === 429)).toEqual([]);
      expect(appends.length).toBeGreaterThanOrEqual(55);
      expect(appends.length).toBeLessThanOrEqual(61);
      expect(appends.every((c, i) => i === 0 || c.at - (appends[i - 1]?.at ?? 0) >= 1000)).toBe(true);
      expect(session.platformCalls).toBe(r.calls.length);
      expect(session.platformCalls).toBeLessThanOrEqual(64);
      expect(r.ctx.deliveries[0]?.text).toBe(`${MENTION}${text}end`);
    });

    it('keeps the fallback within chat.update Tier 3 for the same 60 s answer: edits ≥ 2 s apart', async () => {
      const r = streamRig({ sleepSpins: 100_000 });
      const { session } = await r.open(r.target({ chatId: `${SLACK_NO_STREAM_CHANNEL_PREFIX}3` }));
      let text = '';
      for (let ms = 0; ms < 60_000; ms += 50) {
        text += ms % 250 === 200 ? ' ' : 'a';
        await session.update(text);
        await r.advance(50);
      }
      await session.finish(`${text}end`);
      const edits = r.callsTo('chat.update');
      expect(r.calls.filter((c) => c.status === 429)).toEqual([]);
      expect(edits.length).toBeLessThanOrEqual(31);
      // Interim edits are spaced; the settle's final edit goes out at once.
      const interim = edits.slice(0, -1);
      expect(interim.every((c, i) => i === 0 || c.at - (interim[i - 1]?.at ?? 0) >= 2000)).toBe(true);
      expect(r.ctx.deliveries).toHaveLength(1);
      expect(r.ctx.deliveries[0]?.text).toBe(`${MENTION}${text}end`);
    });
  });
});
