import { createHash } from 'node:crypto';
import type { ReplyImage } from '#core/reply-image';
import { renderBarChart } from '#data-analysis/chart';
import type { ReplyTarget } from '#platforms/types';
import { resolveWeComConfig } from '#platforms/wecom/config';
import { type RelayFrame, relayFrameSchema, relaySurfaceOps, sendViaRelay } from '#platforms/wecom/relay';
import { STREAM_WINDOW_MARGIN_MS } from '#platforms/wecom/stream';
import {
  MAX_STREAM_IMAGES,
  MAX_STREAM_IMAGES_BASE64_CHARS,
  STREAM_WINDOW_MS,
  streamImages,
  streamReply,
} from '#platforms/wecom/stream-protocol';
import { msgItemImages } from '../../../../sandbox/platform-emulator/wecom-stream';
import { NOW } from '../dingtalk/helpers';
import {
  encodingAesKey,
  ON,
  openPassiveReply,
  type StreamRig,
  settleMicrotasks,
  startStreamRig,
  token,
} from './stream-harness';

/**
 * Chart images on WeCom (issue 17): they travel only in a stream's FINAL answer, as `msg_item` images
 * (`{msgtype: "image", image: {base64, md5}}`, at most 10, md5 of the raw bytes). Webhook mode stores them on the
 * finished snapshot and the refresh answer carries them; long-connection mode carries them on the final relay frame.
 */

const chart: ReplyImage = {
  mediaType: 'image/png',
  data: renderBarChart([5, 3]),
  alt: 'Bar chart of units by region',
  width: 76,
  height: 220,
};
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

describe('streamImages / streamReply', () => {
  it('turns a PNG into base64 plus the hex md5 of its raw bytes', () => {
    const { images, failures } = streamImages([chart]);
    expect(failures).toEqual([]);
    expect(images).toEqual([{ base64: Buffer.from(chart.data).toString('base64'), md5: md5(chart.data) }]);
    expect(images[0]?.md5).toMatch(/^[0-9a-f]{32}$/);
  });

  it('keeps at most 10 images and reports the rest by index', () => {
    const { images, failures } = streamImages(Array.from({ length: 12 }, () => chart));
    expect(images).toHaveLength(MAX_STREAM_IMAGES);
    expect(failures.map((f) => f.index)).toEqual([10, 11]);
    expect(failures[0]?.reason).toContain('at most 10');
  });

  it('reports an image over the size budget and keeps the ones that fit', () => {
    const big: ReplyImage = { ...chart, data: new Uint8Array(Math.ceil((MAX_STREAM_IMAGES_BASE64_CHARS * 3) / 4)) };
    const { images, failures } = streamImages([chart, big, chart]);
    expect(images).toHaveLength(2);
    expect(failures).toEqual([{ index: 1, reason: expect.stringContaining('size') }]);
  });

  it('puts msg_item on a finishing answer only', () => {
    const { images } = streamImages([chart]);
    expect(streamReply('s', false, 'partial', images).stream).toEqual({ id: 's', finish: false, content: 'partial' });
    expect(streamReply('s', true, 'done', []).stream).not.toHaveProperty('msg_item');
    expect(streamReply('s', true, 'done', images).stream.msg_item).toEqual([
      { msgtype: 'image', image: { base64: images[0]?.base64, md5: md5(chart.data) } },
    ]);
  });
});

describe("the emulator's msg_item check (WeCom's rules)", () => {
  const item = (bytes: Uint8Array, hash = md5(bytes)) => ({
    msgtype: 'image',
    image: { base64: Buffer.from(bytes).toString('base64'), md5: hash },
  });

  it('accepts images on finish and stores the PNG for the page', () => {
    const checked = msgItemImages([item(chart.data)], true);
    expect(checked).toEqual({ ok: true, images: [expect.objectContaining({ mediaType: 'image/png', height: 220 })] });
  });

  it.each([
    ['images before finish', [item(chart.data)], false, 'finish=true'],
    ['a wrong md5', [item(chart.data, md5(new Uint8Array([1])))], true, 'md5'],
    ['more than 10', Array.from({ length: 11 }, () => item(chart.data)), true, 'at most 10'],
    ['an entry that is not an image', [{ msgtype: 'file' }], true, 'not an image'],
  ])('refuses %s', (_name, items, finish, reason) => {
    expect(msgItemImages(items, finish)).toEqual({ ok: false, reason: expect.stringContaining(reason) });
  });
});

describe('WeCom webhook mode: images on the finished snapshot', () => {
  let rig: StreamRig;
  afterEach(async () => {
    await rig?.server.close();
  });
  const target = (r: StreamRig): ReplyTarget => ({
    handle: r.message.replyHandle,
    format: 'markdown',
    idempotencyKey: r.message.eventId,
  });
  const refreshed = async (r: StreamRig) => {
    const handle = r.message.replyHandle;
    if (handle.platform !== 'wecom' || !handle.streamId) throw new Error('no stream');
    const answer = await r.platform.answerStreamRefresh?.(handle.streamId, r.clock.now);
    return openPassiveReply(answer?.body ?? '').stream;
  };

  it('a streamed reply: interim refreshes carry no images, the finishing one carries msg_item', async () => {
    rig = await startStreamRig();
    const session = await rig.platform.openReply(target(rig), { stream: true });
    await session.update('| region | units |');
    await settleMicrotasks();
    const interim = await refreshed(rig);
    expect(interim).toMatchObject({ finish: false, content: '| region | units |' });
    expect(interim).not.toHaveProperty('msg_item');
    const sent = await session.finish('| region | units |\n| east | 5 |', { images: [chart] });
    expect(sent.imageFailures).toBeUndefined();
    const final = await refreshed(rig);
    expect(final).toMatchObject({ finish: true, content: '| region | units |\n| east | 5 |' });
    expect(msgItemImages(final.msg_item, final.finish)).toMatchObject({ ok: true, images: [{ height: 220 }] });
    // Nothing went by response_url: the images are part of the stream's message.
    expect(rig.ctx.deliveries).toEqual([]);
  });

  it('a one-shot reply (a skill answer) ends the stream with its images; a failure note carries none', async () => {
    rig = await startStreamRig();
    const session = await rig.platform.openReply(target(rig));
    await session.finish('table', { images: [chart, chart] });
    expect((await refreshed(rig)).msg_item).toHaveLength(2);

    await rig.server.close();
    rig = await startStreamRig();
    const failing = await rig.platform.openReply(target(rig), { stream: true });
    await failing.update('partial');
    await settleMicrotasks();
    await failing.fail('partial\n\n(The model could not finish.)');
    expect(await refreshed(rig)).not.toHaveProperty('msg_item');
  });

  it('past the polling window the text goes to response_url and each image is reported as not posted', async () => {
    rig = await startStreamRig();
    rig.clock.now = NOW + STREAM_WINDOW_MS - STREAM_WINDOW_MARGIN_MS;
    const session = await rig.platform.openReply(target(rig));
    const sent = await session.finish('the table', { images: [chart] });
    expect(rig.ctx.deliveries.map((d) => d.text)).toEqual(['the table']);
    expect(sent.imageFailures).toEqual([{ index: 0, reason: 'WeCom response_url replies carry no images' }]);
  });
});

describe('WeCom long-connection mode: images on the final relay frame', () => {
  const config = resolveWeComConfig({
    token,
    encodingAesKey,
    replyUrls: { origins: [], insecureOrigins: [] },
    streaming: ON,
  });
  const target: ReplyTarget = {
    handle: { platform: 'wecom', chatId: 'wr-team', reqId: 'req-1' },
    format: 'markdown',
    idempotencyKey: 'wecom:msg-1',
  };
  const capture = () => {
    const frames: RelayFrame[] = [];
    return { frames, relay: { put: async (frame: RelayFrame) => void frames.push(frame) } };
  };

  it('a whole reply is one final frame with the images, which decodes and stays far under 256 KiB', async () => {
    const { frames, relay } = capture();
    const sent = await sendViaRelay({ ...target, text: 'table', images: [chart, chart] }, relay, config, () => NOW);
    expect(sent.imageFailures).toBeUndefined();
    expect(frames).toHaveLength(1);
    const [frame] = frames;
    expect(frame?.images?.map((i) => i.md5)).toEqual([md5(chart.data), md5(chart.data)]);
    const body = JSON.stringify(frame);
    expect(relayFrameSchema.safeParse(JSON.parse(body)).success).toBe(true);
    expect(Buffer.byteLength(body)).toBeLessThan(256 * 1024);
  });

  it('a streamed reply: interim frames carry no images, the finish does', async () => {
    const { frames, relay } = capture();
    const ops = relaySurfaceOps(target, relay, config, () => NOW);
    const surface = await ops.open('tab', async () => undefined);
    await ops.push(surface, 'table so far');
    await ops.finish(surface, 'table', [chart]);
    expect(frames.map((f) => [f.finish, f.images?.length ?? 0])).toEqual([
      [false, 0],
      [false, 0],
      [true, 1],
    ]);
  });

  it('refuses on decode a frame with images before finish, a bad md5, or images over the size cap', () => {
    const image = streamImages([chart]).images[0];
    if (!image) throw new Error('no image');
    const base = { v: 1, reqId: 'r', chatId: 'c', streamId: 's', content: 't', finish: true, at: 0 };
    expect(relayFrameSchema.safeParse({ ...base, images: [image] }).success).toBe(true);
    expect(relayFrameSchema.safeParse({ ...base, finish: false, images: [image] }).success).toBe(false);
    expect(relayFrameSchema.safeParse({ ...base, images: [{ ...image, md5: 'nothex' }] }).success).toBe(false);
    const huge = { base64: 'A'.repeat(MAX_STREAM_IMAGES_BASE64_CHARS + 4), md5: image.md5 };
    expect(relayFrameSchema.safeParse({ ...base, images: [huge] }).success).toBe(false);
  });
});
