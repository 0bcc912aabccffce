import type { PipelineOutcome, TurnInput } from '#core/answer-pipeline';
import { EventInProgressError, type ProcessDeps, processEvent } from '#core/process-event';
import { openStreamingSession, type SurfaceOps } from '#platforms/shared/streaming-session';
import type { OpenedSurface, OpenReplyOptions, ReplyTarget } from '#platforms/types';
import type { ClaimOutcome } from '#stores/event-record';
import { queuedEvent } from '../../helpers/factories';

/**
 * The worker's streamed path: the fence goes up before the model call, the surface is recorded before its first
 * text, a redelivery resumes the recorded surface, and a lost claim never falls back to a second message.
 */
const event = () => queuedEvent('feishu', { receivedAt: 1_000, message: { text: 'how do I deploy?' } });

const answered: PipelineOutcome = {
  reply: 'Run cdk deploy.',
  source: 'model',
  inputFilter: 'allow',
  outputFilter: 'allow',
  storedQuestion: 'how do I deploy?',
  piiFound: 0,
};

/** A surface whose every call is logged; `show` is what the member would see. */
function recordingOps(log: string[]) {
  let show = '';
  const ops: SurfaceOps = {
    minIntervalMs: 0,
    calls: () => log.filter((l) => l.startsWith('ops:')).length,
    open: async (text, record) => {
      const surface = { id: 'card-1', openedAt: 4_000 };
      await record(surface);
      log.push(`ops:open:${text}`);
      show = text;
      return surface;
    },
    resume: async (surface, text) => {
      log.push(`ops:resume:${surface.id}:${text}`);
      show = text;
    },
    push: async (_surface, text) => {
      log.push(`ops:push:${text}`);
      show = text;
    },
    finish: async (surface, text) => {
      log.push(`ops:finish:${text}`);
      show = text;
      return { messageIds: [surface.id] };
    },
    fail: async (surface, text) => {
      log.push(`ops:fail:${text}`);
      show = text;
      return { messageIds: [surface.id] };
    },
    sendWhole: async (text) => {
      log.push(`ops:sendWhole:${text}`);
      show = text;
      return { messageIds: ['plain-1'] };
    },
  };
  return { ops, shown: () => show };
}

function streamedFakes(options: { claim?: ClaimOutcome; opened?: boolean; outcome?: PipelineOutcome } = {}) {
  const log: string[] = [];
  const { ops, shown } = recordingOps(log);
  const openOptions: OpenReplyOptions[] = [];
  const deps = {
    events: {
      claim: jest.fn(async (..._args: Parameters<ProcessDeps['events']['claim']>) => {
        log.push('claim');
        return options.claim ?? ({ outcome: 'claimed', attempts: 3 } as ClaimOutcome);
      }),
      markSending: jest.fn(async () => {
        log.push('sending');
        return true;
      }),
      markFailed: jest.fn(async () => {
        log.push('failed');
      }),
      clearPendingRecords: jest.fn(async () => undefined),
      markReplyOpened: jest.fn(async (..._args: Parameters<ProcessDeps['events']['markReplyOpened']>) => {
        log.push('recorded-surface');
        return options.opened ?? true;
      }),
    },
    runPipeline: jest.fn(async (input: TurnInput) => {
      log.push('model');
      input.onVisibleText?.('Run');
      input.onVisibleText?.('Run cdk');
      await new Promise((resolve) => setImmediate(resolve));
      return options.outcome ?? answered;
    }),
    openReply: async (_target: ReplyTarget, open?: OpenReplyOptions) => {
      log.push('open');
      openOptions.push(open ?? {});
      return openStreamingSession(ops, open ?? {}, { now: () => 5_000, sleep: async () => undefined });
    },
    streamFor: () => true,
    surfaceSweepAt: (openedAt: number) => openedAt + 1_800_000,
    recordDelivery: jest.fn(async (..._args: Parameters<ProcessDeps['recordDelivery']>) => {
      log.push('delivered');
    }),
    cachePut: jest.fn(async () => undefined),
    recordInvocation: jest.fn(async () => undefined),
    flushRecords: jest.fn(async () => undefined),
    now: () => 5_000,
    leaseMs: 60_000,
    deadline: () => 50_000,
  } satisfies ProcessDeps;
  return { deps, log, shown, openOptions };
}

describe('processEvent, streamed replies', () => {
  it('fences before the first visible call, records the surface before its first text, then finishes it', async () => {
    const { deps, log, shown } = streamedFakes();
    const result = await processEvent(event(), 1, deps);
    expect(result).toEqual({ kind: 'replied', messageIds: ['card-1'], source: 'model' });
    expect(deps.events.claim.mock.calls[0]?.[4]).toEqual({ resumeSending: 'with_surface' });
    // The model call starts before the fence: a crash while the model writes leaves the event claimable.
    expect(log.indexOf('model')).toBeLessThan(log.indexOf('sending'));
    expect(log.indexOf('sending')).toBeLessThan(log.findIndex((l) => l.startsWith('ops:')));
    expect(log.indexOf('recorded-surface')).toBeLessThan(log.findIndex((l) => l.startsWith('ops:open')));
    expect(log.filter((l) => l.startsWith('ops:open'))).toHaveLength(1);
    expect(log).toContain('ops:finish:Run cdk deploy.');
    expect(log.indexOf('ops:finish:Run cdk deploy.')).toBeLessThan(log.indexOf('delivered'));
    expect(deps.events.markReplyOpened).toHaveBeenCalledWith('feishu#evt-1', 5_000, 3, {
      surface: { id: 'card-1', openedAt: 4_000 },
      sweepAt: 4_000 + 1_800_000,
      target: expect.objectContaining({ idempotencyKey: 'evt-1' }),
    });
    expect(shown()).toBe('Run cdk deploy.');
  });

  it('a redelivery resumes the surface the crashed attempt recorded, never opening a second', async () => {
    const surface: OpenedSurface = { id: 'card-1', openedAt: 4_000 };
    const { deps, log, openOptions } = streamedFakes({
      claim: { outcome: 'claimed', attempts: 4, openedSurface: surface },
    });
    await processEvent(event(), 2, deps);
    expect(openOptions[0]?.resume).toEqual(surface);
    expect(log.some((l) => l.startsWith('ops:open'))).toBe(false);
    expect(log[log.findIndex((l) => l.startsWith('ops:'))]).toBe('ops:resume:card-1:Run');
    expect(log).toContain('ops:finish:Run cdk deploy.');
  });

  it('a claim lost while recording the surface fails the attempt without a plain-message fallback', async () => {
    const { deps, log } = streamedFakes({ opened: false });
    await expect(processEvent(event(), 1, deps)).rejects.toBeInstanceOf(EventInProgressError);
    expect(log.some((l) => l.startsWith('ops:sendWhole'))).toBe(false);
    expect(log.some((l) => l.startsWith('ops:finish'))).toBe(false);
    expect(deps.recordDelivery).not.toHaveBeenCalled();
  });

  it('an answer complete at once (cache, skills) is one plain message, not an empty card', async () => {
    const { deps, log } = streamedFakes();
    deps.runPipeline.mockImplementationOnce(async () => ({ ...answered, source: 'cache' }));
    const result = await processEvent(event(), 1, deps);
    expect(result).toMatchObject({ kind: 'replied', messageIds: ['plain-1'] });
    expect(log.filter((l) => l.startsWith('ops:'))).toEqual(['ops:sendWhole:Run cdk deploy.']);
    expect(deps.events.markReplyOpened).not.toHaveBeenCalled();
  });

  it('a model that stops mid-answer settles the shown surface as failed, with the note', async () => {
    const cut = { ...answered, source: 'fallback' as const, reply: 'Run cdk\n\n(cut off)' };
    const { deps, log } = streamedFakes({ outcome: cut });
    await processEvent(event(), 1, deps);
    expect(log).toContain('ops:fail:Run cdk\n\n(cut off)');
    expect(deps.recordDelivery.mock.calls[0]?.[2]).toEqual({ messageIds: ['card-1'], fallback: true });
  });

  it('chats that do not stream keep the one-shot order: the model first, then sending and one send', async () => {
    const { deps, log } = streamedFakes();
    const oneShot = { ...deps, streamFor: () => false };
    await processEvent(event(), 1, oneShot);
    expect(oneShot.events.claim.mock.calls[0]?.[4]).toEqual({ resumeSending: false });
    expect(log.indexOf('model')).toBeLessThan(log.indexOf('sending'));
  });
});
