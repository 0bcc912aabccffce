import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ModelError } from '#core/errors';
import {
  EVENT_STREAM_CONTENT_TYPE,
  encodeInternalStreamFailure,
  encodeModelStreamError,
  encodePayloadPart,
} from '#local-model/event-stream';
import { createSageMakerClient } from '#model/sagemaker-client';

/**
 * `InvokeEndpointWithResponseStream` exception frames no local model engine produces on demand
 * (`InternalStreamFailure` is SageMaker's own), written with the SDK's codec by a scripted endpoint. Before the first
 * delta a failed stream is retried; after it the call fails at once, keeping what was shown.
 */
type Frame = Uint8Array;
const chunk = (content: string, finish?: string) =>
  `${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish ?? null }] })}\n`;
const parts = (text: string, size: number): Frame[] => {
  const bytes = new TextEncoder().encode(text);
  const frames: Frame[] = [];
  for (let i = 0; i < bytes.length; i += size) frames.push(encodePayloadPart(bytes.subarray(i, i + size)));
  return frames;
};

describe('SageMaker stream exceptions', () => {
  let server: Server;
  let url = '';
  const scripts: Frame[][] = [];
  let calls = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      calls++;
      req.resume();
      res.writeHead(200, { 'content-type': EVENT_STREAM_CONTENT_TYPE });
      for (const frame of scripts.shift() ?? []) res.write(frame);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    calls = 0;
    scripts.length = 0;
  });

  const client = () =>
    createSageMakerClient({
      endpointName: 'e',
      endpointUrl: url,
      region: 'us-east-1',
      modelId: 'm',
      instanceType: 'ml.g4dn.xlarge',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      retry: { maxAttempts: 3 },
      sleep: async () => {},
    });

  it('an InternalStreamFailure before the first delta is retried; JSON lines split across 3-byte parts parse', async () => {
    scripts.push([encodeInternalStreamFailure('Try your request again')]);
    scripts.push(parts(chunk('你好,') + chunk('world') + chunk('', 'stop'), 3));
    const deltas: string[] = [];
    const result = await client().invokeStream(
      { messages: [{ role: 'user', content: 'hi' }], maxTokens: 16, temperature: 0 },
      { deadline: Date.now() + 5_000, onDelta: (d) => deltas.push(d) },
    );
    expect(calls).toBe(2);
    expect(result).toMatchObject({ content: '你好,world', finishReason: 'stop', attempts: 2 });
    expect(deltas.join('')).toBe('你好,world');
  });

  it.each([
    ['InternalStreamFailure', encodeInternalStreamFailure('Try your request again')],
    ['ModelStreamError', encodeModelStreamError('stream broken', 'StreamBroken')],
  ])('a %s after the first delta fails the call without a retry', async (_name, failure) => {
    scripts.push([...parts(`data: ${chunk('Hello').trim()}\n\n`, 5), failure]);
    scripts.push(parts(chunk('never asked', 'stop'), 64));
    const deltas: string[] = [];
    const outcome = await client()
      .invokeStream(
        { messages: [{ role: 'user', content: 'hi' }], maxTokens: 16, temperature: 0 },
        { deadline: Date.now() + 5_000, onDelta: (d) => deltas.push(d) },
      )
      .then(
        () => 'answered',
        (err: unknown) => err,
      );
    expect(outcome).toBeInstanceOf(ModelError);
    expect((outcome as ModelError).reason).toBe('server_error');
    expect(deltas).toEqual(['Hello']);
    expect(calls).toBe(1);
  });
});
