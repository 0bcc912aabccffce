import type { PipelineOutcome } from '#core/answer-pipeline';
import { EventInProgressError, type ProcessDeps, processEvent, RecordsPendingError } from '#core/process-event';
import { openOneShotReply } from '#platforms/shared/reply-session';
import type { OutgoingReply, ReplySession, ReplyTarget } from '#platforms/types';
import type { ClaimOutcome } from '#stores/event-record';
import { queuedEvent } from '../../helpers/factories';

/** Slack member U1's question, asked in a thread of channel C1. */
const event = (chatType: 'group' | 'direct' = 'group') =>
  queuedEvent('slack', {
    receivedAt: 1_000,
    message: { chatType, threadId: '1.1', text: '<@B> what is the deploy window?' },
  });

const outcome: PipelineOutcome = {
  reply: 'Fridays 14:00',
  source: 'model',
  inputFilter: 'allow',
  outputFilter: 'allow',
  storedQuestion: 'what is the deploy window?',
  piiFound: 0,
  cachePut: { key: 'k', answer: 'Fridays 14:00', modelId: 'm' },
};

function fakes(claim: ClaimOutcome = { outcome: 'claimed', attempts: 2 }) {
  const log: string[] = [];
  const sent: OutgoingReply[] = [];
  // The platform's one-shot send behind the reply session the worker opens.
  const send = jest.fn(async (reply: OutgoingReply) => {
    log.push('send');
    sent.push(reply);
    return { messageIds: ['m1'] };
  });
  const deps = {
    events: {
      claim: jest.fn(async () => claim),
      markSending: jest.fn(async (): Promise<boolean> => {
        log.push('sending');
        return true;
      }),
      markFailed: jest.fn(async (..._args: Parameters<ProcessDeps['events']['markFailed']>) => {
        log.push('failed');
      }),
      clearPendingRecords: jest.fn(async () => {
        log.push('cleared');
      }),
      markReplyOpened: jest.fn(async (): Promise<boolean> => {
        log.push('opened');
        return true;
      }),
    },
    runPipeline: jest.fn(async () => {
      log.push('pipeline');
      return outcome;
    }),
    send,
    recordDelivery: jest.fn(async (..._args: Parameters<ProcessDeps['recordDelivery']>) => {
      log.push('delivered');
    }),
    cachePut: jest.fn(async () => {
      log.push('cache');
    }),
    recordInvocation: jest.fn(async (): Promise<string | undefined> => {
      log.push('ledger');
      return undefined;
    }),
    flushRecords: jest.fn(async (_pending: string) => {
      log.push('flushed');
    }),
    now: () => 5_000,
    leaseMs: 60_000,
    deadline: () => 50_000,
    openReply: async (target: ReplyTarget) => openOneShotReply(send, target),
  } satisfies ProcessDeps & { send: unknown };
  return { deps, log, sent };
}

describe('processEvent', () => {
  it('claims, answers, marks sending before the send, records the delivery, caches', async () => {
    const { deps, log, sent } = fakes();
    const result = await processEvent(event(), 1, deps);
    expect(result).toEqual({ kind: 'replied', messageIds: ['m1'], source: 'model' });
    expect(log.indexOf('sending')).toBeLessThan(log.indexOf('send'));
    expect(log.indexOf('send')).toBeLessThan(log.indexOf('delivered'));
    expect(log).toEqual(expect.arrayContaining(['pipeline', 'ledger', 'cache']));
    expect(deps.events.markSending).toHaveBeenCalledWith('slack#Ev1', 5_000, 2);
    expect(deps.recordDelivery).toHaveBeenCalledWith(
      'slack#Ev1',
      5_000,
      { messageIds: ['m1'], fallback: false },
      outcome,
    );
    expect(sent[0]).toMatchObject({ text: 'Fridays 14:00', mentionUserId: 'U1', idempotencyKey: 'Ev1' });
  });

  it.each([
    ['model', 'finish'],
    ['cache', 'finish'],
    ['command', 'finish'],
    ['blocked_input', 'finish'],
    ['fallback', 'fail'],
  ] as const)('a %s outcome settles the reply session with %s, after markSending', async (source, settledWith) => {
    const { deps, log } = fakes();
    const settled: string[] = [];
    deps.runPipeline.mockResolvedValueOnce({ ...outcome, source, reply: `reply (${source})` });
    const open = async (target: ReplyTarget): Promise<ReplySession> => {
      log.push('open');
      const session = openOneShotReply(deps.send, target);
      return {
        platformCalls: 0,
        update: (text) => session.update(text),
        abandon: () => session.abandon(),
        finish: (text) => {
          settled.push(`finish:${text}`);
          return session.finish(text);
        },
        fail: (note) => {
          settled.push(`fail:${note}`);
          return session.fail(note);
        },
      };
    };
    await processEvent(event(), 1, { ...deps, openReply: open });
    expect(settled).toEqual([`${settledWith}:reply (${source})`]);
    expect(log.indexOf('sending')).toBeLessThan(log.indexOf('open'));
  });

  it('does not mention the asker in a direct chat', async () => {
    const { deps, sent } = fakes();
    await processEvent(event('direct'), 1, deps);
    expect(sent[0]?.mentionUserId).toBeUndefined();
  });

  it.each<[ClaimOutcome, string]>([
    [{ outcome: 'already_replied', replyMessageIds: ['m0'] }, 'already_replied'],
    [{ outcome: 'delivery_unknown' }, 'delivery_unknown'],
  ])('acknowledges %j without a model call or a send', async (claim, kind) => {
    const { deps } = fakes(claim);
    expect(await processEvent(event(), 2, deps)).toEqual({ kind });
    expect(deps.runPipeline).not.toHaveBeenCalled();
    expect(deps.send).not.toHaveBeenCalled();
  });

  it('throws EventInProgressError (SQS retries later) while another worker holds the lease', async () => {
    const { deps } = fakes({ outcome: 'in_progress', leaseUntil: 9_000 });
    await expect(processEvent(event(), 1, deps)).rejects.toBeInstanceOf(EventInProgressError);
    expect(deps.send).not.toHaveBeenCalled();
  });

  it('never sends when the claim was taken over before the send (markSending refused)', async () => {
    const { deps } = fakes();
    deps.events.markSending.mockResolvedValueOnce(false);
    await expect(processEvent(event(), 1, deps)).rejects.toBeInstanceOf(EventInProgressError);
    expect(deps.send).not.toHaveBeenCalled();
    expect(deps.events.markFailed).toHaveBeenCalledWith('slack#Ev1', 5_000, 2, undefined, {});
  });

  it('gives the lease back (fenced by attempts) and rethrows when the platform refuses the send', async () => {
    const { deps } = fakes();
    const refused = new Error('platform 500');
    deps.send.mockRejectedValueOnce(refused);
    await expect(processEvent(event(), 1, deps)).rejects.toBe(refused);
    expect(deps.events.markFailed).toHaveBeenCalledWith('slack#Ev1', 5_000, 2, undefined, {});
    expect(deps.recordInvocation).toHaveBeenCalledTimes(1);
    expect(deps.recordDelivery).not.toHaveBeenCalled();
  });

  it('rethrows a failed delivery record (the next delivery then finds `sending` and does not resend)', async () => {
    const { deps } = fakes();
    deps.recordDelivery.mockRejectedValueOnce(new Error('throttled'));
    await expect(processEvent(event(), 1, deps)).rejects.toThrow('throttled');
    expect(deps.send).toHaveBeenCalledTimes(1);
    expect(deps.events.markFailed).not.toHaveBeenCalled();
  });

  it('ignores cache and ledger failures once the reply is out', async () => {
    const { deps } = fakes();
    deps.cachePut.mockRejectedValueOnce(new Error('cache down'));
    deps.recordInvocation.mockRejectedValueOnce(new Error('ledger down'));
    expect(await processEvent(event(), 1, deps)).toMatchObject({ kind: 'replied' });
  });

  it('records a fallback reply as such', async () => {
    const { deps } = fakes();
    deps.runPipeline.mockResolvedValueOnce({ ...outcome, source: 'fallback', cachePut: undefined });
    await processEvent(event(), 1, deps);
    expect(deps.recordDelivery.mock.calls[0]?.[2]).toEqual({ messageIds: ['m1'], fallback: true });
    expect(deps.cachePut).not.toHaveBeenCalled();
  });

  describe('ledger and audit records that cannot be written (issue 13)', () => {
    const PENDING = '{"ledger":[{"pk":"GROUP#x","sk":"t#1"}]}';

    it('keeps unwritten records with the replied status and fails the message, after exactly one send', async () => {
      const { deps } = fakes();
      deps.recordInvocation.mockResolvedValueOnce(PENDING);
      await expect(processEvent(event(), 1, deps)).rejects.toBeInstanceOf(RecordsPendingError);
      expect(deps.send).toHaveBeenCalledTimes(1);
      expect(deps.recordDelivery.mock.calls[0]?.[2]).toEqual({
        messageIds: ['m1'],
        fallback: false,
        pendingRecords: PENDING,
      });
      expect(deps.events.markFailed).not.toHaveBeenCalled();
    });

    it('on redelivery of a replied event, writes the pending records without a model call or a send', async () => {
      const { deps, log } = fakes({ outcome: 'already_replied', replyMessageIds: ['m1'], pendingRecords: PENDING });
      expect(await processEvent(event(), 2, deps)).toEqual({ kind: 'already_replied' });
      expect(deps.flushRecords).toHaveBeenCalledWith(PENDING);
      expect(log).toEqual(['flushed', 'cleared']);
      expect(deps.runPipeline).not.toHaveBeenCalled();
      expect(deps.send).not.toHaveBeenCalled();
    });

    it('keeps failing (so SQS redelivers, then dead-letters) while the pending records still cannot be written', async () => {
      const { deps } = fakes({ outcome: 'already_replied', replyMessageIds: ['m1'], pendingRecords: PENDING });
      deps.flushRecords.mockRejectedValueOnce(new Error('still throttled'));
      await expect(processEvent(event(), 2, deps)).rejects.toThrow('still throttled');
      expect(deps.events.clearPendingRecords).not.toHaveBeenCalled();
      expect(deps.send).not.toHaveBeenCalled();
    });

    it('keeps records of an attempt whose send failed with its failed status; the next attempt writes them first', async () => {
      const first = fakes();
      first.deps.recordInvocation.mockResolvedValueOnce(PENDING);
      first.deps.send.mockRejectedValueOnce(new Error('platform 500'));
      await expect(processEvent(event(), 1, first.deps)).rejects.toThrow('platform 500');
      expect(first.deps.events.markFailed).toHaveBeenCalledWith('slack#Ev1', 5_000, 2, undefined, {
        pendingRecords: PENDING,
      });

      const second = fakes({ outcome: 'claimed', attempts: 3, pendingRecords: PENDING });
      expect(await processEvent(event(), 2, second.deps)).toMatchObject({ kind: 'replied' });
      expect(second.log.slice(0, 3)).toEqual(['flushed', 'cleared', 'pipeline']);
      expect(second.deps.send).toHaveBeenCalledTimes(1);
    });

    it('gives the claim back with the records still pending when they cannot be written before answering', async () => {
      const { deps } = fakes({ outcome: 'claimed', attempts: 3, pendingRecords: PENDING });
      deps.flushRecords.mockRejectedValueOnce(new Error('throttled'));
      await expect(processEvent(event(), 2, deps)).rejects.toThrow('throttled');
      expect(deps.events.markFailed).toHaveBeenCalledWith('slack#Ev1', 5_000, 3, undefined, {
        pendingRecords: PENDING,
      });
      expect(deps.runPipeline).not.toHaveBeenCalled();
    });
  });
});
