import type { PipelineOutcome } from '#core/answer-pipeline';
import { type ProcessDeps, processEvent } from '#core/process-event';
import type { ReplyImage } from '#core/reply-image';
import { renderBarChart } from '#data-analysis/chart';
import { postReplyImages, withImages } from '#platforms/shared/reply-images';
import { openOneShotReply } from '#platforms/shared/reply-session';
import { openStreamingSession, type SurfaceOps } from '#platforms/shared/streaming-session';
import type { OutgoingReply, ReplyTarget } from '#platforms/types';
import { queuedEvent } from '../../../helpers/factories';

/**
 * Images through the reply path: `finish(text, { images })` on one-shot and streaming sessions, `processEvent`
 * passing a skill's images to the settle (never to a failure note), and the adapters' shared image loop, where a
 * failed image is reported and the text's result is kept.
 */

const chart: ReplyImage = {
  mediaType: 'image/png',
  data: renderBarChart([1, 2]),
  alt: 'Bar chart of units by region',
  width: 76,
  height: 220,
};
const target: ReplyTarget = {
  handle: { platform: 'slack', channel: 'C1', threadTs: '1.1' },
  format: 'markdown',
  idempotencyKey: 'Ev1',
};

describe('postReplyImages', () => {
  it('posts each image in order; a failed one is reported with its index and the next is still posted', async () => {
    const posted: number[] = [];
    const result = await postReplyImages([chart, chart, chart], async (_image, index) => {
      if (index === 1) throw new Error('Slack files.getUploadURLExternal failed: file_uploads_disabled');
      posted.push(index);
      return `F${index}`;
    });
    expect(posted).toEqual([0, 2]);
    expect(result).toEqual({
      messageIds: ['F0', 'F2'],
      failures: [{ index: 1, reason: 'Slack files.getUploadURLExternal failed: file_uploads_disabled' }],
    });
    expect(withImages({ messageIds: ['ts1'] }, result)).toEqual({
      messageIds: ['ts1', 'F0', 'F2'],
      imageFailures: [{ index: 1, reason: 'Slack files.getUploadURLExternal failed: file_uploads_disabled' }],
    });
    expect(withImages({ messageIds: ['ts1'] }, { messageIds: [], failures: [] })).toEqual({ messageIds: ['ts1'] });
  });
});

describe('one-shot session', () => {
  it('finish sends the text with its images in one send; fail sends the note alone', async () => {
    const sent: OutgoingReply[] = [];
    const send = async (reply: OutgoingReply) => {
      sent.push(reply);
      return { messageIds: ['m1', ...(reply.images ?? []).map((_, i) => `img${i}`)] };
    };
    const answered = openOneShotReply(send, target);
    expect(await answered.finish('| a | 1 |', { images: [chart] })).toEqual({ messageIds: ['m1', 'img0'] });
    expect(answered.platformCalls).toBe(2);
    const failed = openOneShotReply(send, target);
    await failed.fail('The model is unavailable.');
    expect(sent.map((r) => [r.text, r.images?.length ?? 0])).toEqual([
      ['| a | 1 |', 1],
      ['The model is unavailable.', 0],
    ]);
    // No images: the reply is exactly what it was before images existed.
    await openOneShotReply(send, target).finish('plain');
    expect(sent[2]).toEqual({ ...target, text: 'plain' });
  });
});

describe('streaming session', () => {
  function ops(options: { sendImages?: boolean } = {}) {
    const calls: string[] = [];
    const surfaceOps: SurfaceOps = {
      minIntervalMs: 0,
      calls: () => calls.length,
      open: async (text, record) => {
        const surface = { id: 'card', openedAt: 0 };
        await record(surface);
        calls.push(`open:${text}`);
        return surface;
      },
      resume: async () => void calls.push('resume'),
      push: async (_s, text) => void calls.push(`push:${text}`),
      finish: async (_s, text) => {
        calls.push(`finish:${text}`);
        return { messageIds: ['card'] };
      },
      fail: async (_s, text) => {
        calls.push(`fail:${text}`);
        return { messageIds: ['card'] };
      },
      sendWhole: async (text, images) => {
        calls.push(`whole:${text}:${images?.length ?? 0}`);
        return { messageIds: ['plain', ...(images ?? []).map(() => 'img')] };
      },
      ...(options.sendImages === false
        ? {}
        : {
            sendImages: async (images) => {
              calls.push(`images:${images.length}`);
              return { messageIds: [], imageFailures: [{ index: 0, reason: 'upload answered 500' }] };
            },
          }),
    };
    const deps = { now: () => 0, sleep: async () => undefined };
    return { calls, open: () => openStreamingSession(surfaceOps, {}, deps) };
  }

  it('settled before any update (a skill answer): one plain message carrying the images', async () => {
    const rig = ops();
    expect(await rig.open().finish('table', { images: [chart] })).toEqual({ messageIds: ['plain', 'img'] });
    expect(rig.calls).toEqual(['whole:table:1']);
  });

  it('after a surface was shown: the final text first, then the images, their failures in the result', async () => {
    const rig = ops();
    const session = rig.open();
    await session.update('partial');
    await new Promise((resolve) => setImmediate(resolve));
    const sent = await session.finish('table', { images: [chart] });
    expect(rig.calls).toEqual(['open:partial', 'finish:table', 'images:1']);
    expect(sent).toEqual({ messageIds: ['card'], imageFailures: [{ index: 0, reason: 'upload answered 500' }] });
  });

  it('a platform without image posting leaves them out, and a failure note never carries images', async () => {
    const rig = ops({ sendImages: false });
    const session = rig.open();
    await session.update('partial');
    await new Promise((resolve) => setImmediate(resolve));
    expect(await session.finish('table', { images: [chart] })).toEqual({ messageIds: ['card'] });
    expect(rig.calls).toEqual(['open:partial', 'finish:table']);
  });
});

describe('processEvent with a skill answer that has images', () => {
  const base: PipelineOutcome = {
    reply: '| region | units |',
    source: 'skill',
    inputFilter: 'allow',
    outputFilter: 'allow',
    storedQuestion: '/data sales units by region',
    piiFound: 0,
    skill: 'data',
  };

  function deps(outcome: PipelineOutcome) {
    const sent: OutgoingReply[] = [];
    const delivered: Parameters<ProcessDeps['recordDelivery']>[2][] = [];
    const send = async (reply: OutgoingReply) => {
      sent.push(reply);
      return { messageIds: ['m1', ...(reply.images ?? []).map((_, i) => `img${i}`)] };
    };
    const processDeps: ProcessDeps = {
      events: {
        claim: async () => ({ outcome: 'claimed', attempts: 1 }),
        markSending: async () => true,
        markFailed: async () => undefined,
        clearPendingRecords: async () => undefined,
        markReplyOpened: async () => true,
      },
      runPipeline: async () => outcome,
      openReply: async (t) => openOneShotReply(send, t),
      recordDelivery: async (_pk, _at, reply) => void delivered.push(reply),
      cachePut: async () => undefined,
      recordInvocation: async () => undefined,
      flushRecords: async () => undefined,
      now: () => 5_000,
      leaseMs: 60_000,
      deadline: () => 50_000,
    };
    return { processDeps, sent, delivered };
  }

  it('sends the text with the images once and records every message id as the reply', async () => {
    const rig = deps({ ...base, images: [chart] });
    const result = await processEvent(queuedEvent('slack'), 1, rig.processDeps);
    expect(result).toEqual({ kind: 'replied', messageIds: ['m1', 'img0'], source: 'skill' });
    expect(rig.sent).toHaveLength(1);
    expect(rig.sent[0]?.images).toEqual([chart]);
    expect(rig.delivered[0]?.messageIds).toEqual(['m1', 'img0']);
  });

  it('an answer without images sends none', async () => {
    const rig = deps(base);
    await processEvent(queuedEvent('slack'), 1, rig.processDeps);
    expect(rig.sent[0]).not.toHaveProperty('images');
  });
});
