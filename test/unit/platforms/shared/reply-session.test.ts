import { openOneShotReply, ReplySessionClosedError, withOneShotReplies } from '#platforms/shared/reply-session';
import type { OutgoingReply, ReplyTarget, SendResult } from '#platforms/types';

const target: ReplyTarget = {
  handle: { platform: 'slack', channel: 'C1', threadTs: '1700000000.000100' },
  format: 'markdown',
  mentionUserId: 'U1',
  idempotencyKey: 'slack#Ev1',
};

function recordingSend(result: SendResult = { messageIds: ['m1'] }) {
  const sent: OutgoingReply[] = [];
  const send = async (reply: OutgoingReply): Promise<SendResult> => {
    sent.push(reply);
    return result;
  };
  return { sent, send };
}

describe('one-shot reply session', () => {
  it('buffers updates without calling the platform', async () => {
    const { sent, send } = recordingSend();
    const session = openOneShotReply(send, target);
    await session.update('The port');
    await session.update('The port is 8443');
    expect(sent).toEqual([]);
    expect(session.buffered).toBe('The port is 8443');
    expect(session.platformCalls).toBe(0);
  });

  it('finish sends the full text once, to the target, and returns the send result', async () => {
    const { sent, send } = recordingSend({ messageIds: ['m1', 'm2'] });
    const session = openOneShotReply(send, target);
    await session.update('The port');
    await expect(session.finish('The port is 8443.')).resolves.toEqual({ messageIds: ['m1', 'm2'] });
    expect(sent).toEqual([{ ...target, text: 'The port is 8443.' }]);
  });

  it('fail sends the note alone, not the buffered partial answer', async () => {
    const { sent, send } = recordingSend();
    const session = openOneShotReply(send, target);
    await session.update('The port is');
    await expect(session.fail('Sorry, the model is unavailable.')).resolves.toEqual({ messageIds: ['m1'] });
    expect(sent).toEqual([{ ...target, text: 'Sorry, the model is unavailable.' }]);
  });

  it('refuses finish after fail, fail after finish, a second finish and late updates', async () => {
    const failed = recordingSend();
    const afterFail = openOneShotReply(failed.send, target);
    await afterFail.fail('note');
    await expect(afterFail.finish('answer')).rejects.toBeInstanceOf(ReplySessionClosedError);
    await expect(afterFail.update('more')).rejects.toBeInstanceOf(ReplySessionClosedError);
    expect(failed.sent).toHaveLength(1);

    const finished = recordingSend();
    const afterFinish = openOneShotReply(finished.send, target);
    await afterFinish.finish('answer');
    await expect(afterFinish.finish('answer')).rejects.toThrow(/already settled by finish\(\); finish\(\) refused/);
    await expect(afterFinish.fail('note')).rejects.toBeInstanceOf(ReplySessionClosedError);
    expect(finished.sent).toHaveLength(1);
  });

  it('settles when finish is called, so a second settle during the send is refused', async () => {
    let release: (result: SendResult) => void = () => undefined;
    let calls = 0;
    const session = openOneShotReply(
      () =>
        new Promise<SendResult>((resolve) => {
          calls++;
          release = resolve;
        }),
      target,
    );
    const first = session.finish('answer');
    await expect(session.fail('note')).rejects.toBeInstanceOf(ReplySessionClosedError);
    release({ messageIds: ['m1'] });
    await expect(first).resolves.toEqual({ messageIds: ['m1'] });
    expect(calls).toBe(1);
  });

  it('stays settled when its send fails: the caller decides what a failed delivery means', async () => {
    const session = openOneShotReply(async () => Promise.reject(new Error('platform 503')), target);
    await expect(session.finish('answer')).rejects.toThrow('platform 503');
    await expect(session.fail('note')).rejects.toBeInstanceOf(ReplySessionClosedError);
  });

  it('withOneShotReplies gives an adapter sessions that send through its own send', async () => {
    const { sent, send } = recordingSend();
    const adapter = withOneShotReplies({
      name: 'slack',
      parse: () => ({ kind: 'ignored', reason: 'not used' }),
      send,
    });
    const session = await adapter.openReply(target);
    await session.update('partial');
    await session.finish('full');
    expect(sent.map((r) => r.text)).toEqual(['full']);
  });
});
