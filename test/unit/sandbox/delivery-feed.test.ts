import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeliveryFeed, deliveryView, serveDeliveryStream } from '../../../sandbox/delivery-feed';
import type { EmulatedDelivery } from '../../../sandbox/platform-emulator/types';

/** `GET /_sandbox/stream` as the page's EventSource reads it: served by `serveDeliveryStream` over real HTTP. */
let server: Server;
let url: string;
let feed: DeliveryFeed;

beforeEach(async () => {
  feed = new DeliveryFeed();
  server = createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    serveDeliveryStream(res, feed, {
      platform: query.get('platform'),
      chat: query.get('chat'),
      keepAliveMs: Number(query.get('keepAlive') ?? 15_000),
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  feed.close();
  await new Promise<void>((r) => server.close(() => r()));
});

const DELIVERY: EmulatedDelivery = {
  platform: 'feishu',
  chatId: 'eng-team',
  messageId: 'om_1',
  text: '@alice Hel',
  replyTo: 'om_q',
  at: '2026-01-01T00:00:00.000Z',
  stream: 'streaming',
};

/** Reads the body as it arrives until `until` holds for what was read so far. */
async function readUntil(body: ReadableStream<Uint8Array>, until: (text: string) => boolean): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!until(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text;
}

const eventsIn = (text: string) =>
  text
    .split('\n\n')
    .filter((block) => block.startsWith('event: delivery\n'))
    .map((block) => JSON.parse(block.slice('event: delivery\ndata: '.length)) as unknown);

const until = (predicate: () => boolean) =>
  new Promise<void>((resolve) => {
    const check = () => (predicate() ? resolve() : setTimeout(check, 5));
    check();
  });

describe('GET /_sandbox/stream (serveDeliveryStream)', () => {
  it('answers text/event-stream, no-cache, and sends each publish as one `delivery` event of the view JSON', async () => {
    const controller = new AbortController();
    const res = await fetch(`${url}/`, { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    await until(() => feed.subscriberCount === 1);
    feed.publish(DELIVERY);
    const grown = { ...DELIVERY, text: '@alice Hello\nworld', updates: 1, updatedAt: '2026-01-01T00:00:01.000Z' };
    feed.publish(grown);
    const text = await readUntil(res.body!, (t) => eventsIn(t).length === 2);
    expect(text.startsWith('retry: 2000\n')).toBe(true);
    expect(eventsIn(text)).toEqual([
      {
        platform: 'feishu',
        chatId: 'eng-team',
        messageId: 'om_1',
        text: '@alice Hel',
        replyTo: 'om_q',
        mentions: [],
        at: '2026-01-01T00:00:00.000Z',
        stream: 'streaming',
      },
      deliveryView(grown),
    ]);
    controller.abort();
  });

  it('filters by platform and chat when asked', async () => {
    const controller = new AbortController();
    const res = await fetch(`${url}/?platform=slack&chat=sales`, { signal: controller.signal });
    await until(() => feed.subscriberCount === 1);
    feed.publish(DELIVERY);
    feed.publish({ ...DELIVERY, platform: 'slack', chatId: 'eng-team', messageId: 's0' });
    feed.publish({ ...DELIVERY, platform: 'slack', chatId: 'sales', messageId: 's1' });
    const text = await readUntil(res.body!, (t) => eventsIn(t).length >= 1);
    expect(eventsIn(text)).toEqual([expect.objectContaining({ platform: 'slack', chatId: 'sales', messageId: 's1' })]);
    controller.abort();
  });

  it('writes a keep-alive comment on the interval', async () => {
    const controller = new AbortController();
    const res = await fetch(`${url}/?keepAlive=20`, { signal: controller.signal });
    const text = await readUntil(res.body!, (t) => t.split(': keep-alive\n\n').length > 2);
    expect(text).toContain(': keep-alive\n\n');
    controller.abort();
  });

  it('unsubscribes when the client hangs up', async () => {
    const controller = new AbortController();
    await fetch(`${url}/`, { signal: controller.signal });
    await until(() => feed.subscriberCount === 1);
    controller.abort();
    await until(() => feed.subscriberCount === 0);
    expect(() => feed.publish(DELIVERY)).not.toThrow();
  });

  it('ends every open stream when the feed closes, so the server can stop', async () => {
    const res = await fetch(`${url}/`);
    await until(() => feed.subscriberCount === 1);
    feed.close();
    expect(feed.subscriberCount).toBe(0);
    // The body ends (done) instead of hanging: server.close in afterEach then completes.
    const text = await readUntil(res.body!, () => false);
    expect(text).toContain(': connected');
  });
});

describe('deliveryView', () => {
  it('lists messageId, stream and updates for a streamed reply, and leaves absent fields out', () => {
    expect(deliveryView({ ...DELIVERY, updates: 3, updatedAt: '2026-01-01T00:00:02.000Z' })).toMatchObject({
      messageId: 'om_1',
      stream: 'streaming',
      updates: 3,
      updatedAt: '2026-01-01T00:00:02.000Z',
    });
    const plain = deliveryView({
      platform: 'wecom',
      chatId: 'c',
      messageId: 'm',
      text: 'hi',
      at: DELIVERY.at,
      mentions: ['bob'],
    });
    expect(plain).toEqual({
      platform: 'wecom',
      chatId: 'c',
      messageId: 'm',
      text: 'hi',
      mentions: ['bob'],
      at: DELIVERY.at,
    });
  });
});
