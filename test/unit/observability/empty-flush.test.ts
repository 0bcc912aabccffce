import { createHmac } from 'node:crypto';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { ENV } from '#config/env-names';
import { handler as chatApiHandler } from '#handlers/chat-api';
import { handler as webhookHandler } from '#handlers/webhook';
import { DIMENSION, METRIC, METRICS_NAMESPACE, metrics, recordMetric } from '#shared/metrics';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';
import { buildProxyEvent, lambdaContext } from '../../../sandbox/api-gateway';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { chatApiEvent } from '../../helpers/factories';

/**
 * A refused request records no metric, or only a rejection count: its flush must not make Powertools warn "No
 * application metrics to publish" (once per refused request, in every log). Driven through the real handlers and their
 * own middleware, with stdout and stderr captured as Lambda's log would see them.
 */
const POWERTOOLS_EMPTY_WARNING = 'No application metrics to publish';

interface EmfBlob {
  readonly _aws: { readonly CloudWatchMetrics: readonly { readonly Namespace: string; Dimensions: string[][] }[] };
  readonly [key: string]: unknown;
}

let written: string[];
let spies: jest.SpyInstance[];

beforeAll(() => logger.setLogLevel('SILENT'));
beforeEach(() => {
  written = [];
  const capture = (chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation(capture),
    jest.spyOn(process.stderr, 'write').mockImplementation(capture),
    // Powertools writes through the global console when POWERTOOLS_DEV is set; jest's console does not use stdout.
    jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void capture(args.join(' '))),
  ];
});
afterEach(() => {
  for (const spy of spies) spy.mockRestore();
});

const output = () => written.join('');
const emfBlobs = (): EmfBlob[] =>
  output()
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfBlob);

describe('a flush after an invocation that recorded no metric', () => {
  it('writes nothing: no EMF blob and no Powertools warning', async () => {
    const idle = withMiddlewares(async () => 'nothing due', [logMetrics(metrics)]);
    await expect(idle({}, lambdaContext('idle', 1_000) as unknown as Context)).resolves.toBe('nothing due');
    expect(emfBlobs()).toEqual([]);
    expect(output()).not.toContain(POWERTOOLS_EMPTY_WARNING);
  });

  it('leaves no dimension or metadata of that invocation to the next blob', async () => {
    const idle = withMiddlewares(async () => {
      metrics.addDimension('leftover', 'yes');
      metrics.addMetadata('leftoverMeta', 'yes');
    }, [logMetrics(metrics)]);
    const busy = withMiddlewares(async () => recordMetric(METRIC.enqueued), [logMetrics(metrics)]);
    await idle({}, lambdaContext('idle', 1_000) as unknown as Context);
    await busy({}, lambdaContext('busy', 1_000) as unknown as Context);
    const [blob, ...rest] = emfBlobs();
    expect(rest).toEqual([]);
    expect(blob?.[METRIC.enqueued]).toBe(1);
    expect(blob?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([[DIMENSION.service]]);
    expect(blob).not.toHaveProperty('leftover');
    expect(blob).not.toHaveProperty('leftoverMeta');
  });

  it('still publishes what an invocation did record', async () => {
    const busy = withMiddlewares(async () => recordMetric(METRIC.duplicates), [logMetrics(metrics)]);
    await busy({}, lambdaContext('busy', 1_000) as unknown as Context);
    const blobs = emfBlobs();
    expect(blobs.map((b) => b[METRIC.duplicates])).toEqual([1]);
    expect(blobs[0]?._aws.CloudWatchMetrics[0]?.Namespace).toBe(METRICS_NAMESPACE);
  });
});

describe('/v1/chat refusals (real handler and middleware)', () => {
  it('answers a request without an authenticated caller 401 and writes no metric and no warning', async () => {
    const res = await chatApiHandler(
      chatApiEvent({ query: 'hi' }, { authorizer: null }),
      lambdaContext('groupgate-chat-api', 29_000) as unknown as Context,
    );
    expect(res.statusCode).toBe(401);
    expect(emfBlobs()).toEqual([]);
    expect(output()).not.toContain(POWERTOOLS_EMPTY_WARNING);
  });
});

describe('webhook refusals (real handler and middleware)', () => {
  const env = {
    // What Lambda sets; nothing here reaches AWS, a refused request is answered before any call.
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    ...credentialEnv(SANDBOX_CREDENTIALS),
    [ENV.enabledPlatforms]: 'slack',
    [ENV.queueUrl]: 'http://127.0.0.1:9/000000000000/never-called.fifo',
    [ENV.eventsTable]: 'never-called',
    [ENV.replyHandleOrigins]: 'http://127.0.0.1:9',
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  beforeAll(() => Object.assign(process.env, env));
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const body = JSON.stringify({ type: 'event_callback', event_id: 'Ev1', event: { type: 'app_mention' } });
  /** Slack's v0 signature headers over `body`, with `secret` and a timestamp `ageSeconds` old. */
  const signed = (secret: string, ageSeconds: number): [string, string][] => {
    const timestamp = String(Math.floor(Date.now() / 1000) - ageSeconds);
    const mac = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
    return [
      ['X-Slack-Request-Timestamp', timestamp],
      ['X-Slack-Signature', `v0=${mac}`],
    ];
  };
  const slackRequest = (headers: [string, string][]) =>
    buildProxyEvent(
      {
        method: 'POST',
        url: '/webhook/slack',
        headers: [['Content-Type', 'application/json'], ...headers],
        body: Buffer.from(body),
      },
      { resource: '/webhook/{platform}', pathParameters: { platform: 'slack' } },
    );

  it.each([
    ['unsigned', [], 'invalid_signature'],
    ['signed with a wrong secret', signed('not-the-secret', 0), 'invalid_signature'],
    ['signed an hour ago', signed(SANDBOX_CREDENTIALS.slack.signingSecret, 3_600), 'stale_request'],
  ] satisfies [string, [string, string][], string][])(
    'counts a request %s as WebhookRejected{reason} and writes no warning',
    async (_, headers, reason) => {
      const res = await webhookHandler(
        slackRequest(headers),
        lambdaContext('groupgate-webhook', 10_000) as unknown as Context,
      );
      expect(res.statusCode).toBe(401);
      expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe(reason);
      const blobs = emfBlobs();
      const rejected = blobs.filter((b) => b[METRIC.webhookRejected] !== undefined);
      expect(rejected.map((b) => [b[METRIC.webhookRejected], b[DIMENSION.reason]])).toEqual([[1, reason]]);
      expect(rejected[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([[DIMENSION.service, DIMENSION.reason]]);
      // The request count is flushed by the middleware, without the rejection's `reason` dimension.
      const requests = blobs.filter((b) => b[METRIC.webhookRequests] !== undefined);
      expect(requests.map((b) => [b[METRIC.webhookRequests], b[DIMENSION.reason]])).toEqual([[1, undefined]]);
      expect(output()).not.toContain(POWERTOOLS_EMPTY_WARNING);
    },
  );
});
