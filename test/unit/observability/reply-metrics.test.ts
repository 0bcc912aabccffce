import { DIMENSION, METRIC, METRIC_UNIT, METRICS_NAMESPACE, recordReplyMetrics } from '#shared/metrics';
import type { EmfBlob } from './emf';

/**
 * `recordReplyMetrics` publishes one EMF line per reply under that reply's platform: the dashboard's per-platform
 * widgets read namespace + name + exactly the `service` and `platform` dimensions, and no platform may leak into
 * another reply's line.
 */

let lines: string[];
let spy: jest.SpyInstance;
beforeEach(() => {
  lines = [];
  spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    lines.push(...text.split('\n').filter((l) => l.includes('"_aws"')));
    return true;
  });
});
afterEach(() => spy.mockRestore());

const blobs = () => lines.map((line) => JSON.parse(line) as EmfBlob);

it('publishes both figures of a reply as one line under its platform', () => {
  recordReplyMetrics('slack', { timeToFirstVisibleMs: 250, platformCalls: 2 });
  const [blob, ...rest] = blobs();
  expect(rest).toHaveLength(0);
  expect(blob?._aws.CloudWatchMetrics).toEqual([
    {
      Namespace: METRICS_NAMESPACE,
      Dimensions: [[DIMENSION.service, DIMENSION.platform]],
      Metrics: [
        { Name: METRIC.timeToFirstVisibleTextMs, Unit: METRIC_UNIT.TimeToFirstVisibleText },
        { Name: METRIC.platformCallsPerReply, Unit: METRIC_UNIT.PlatformCallsPerReply },
      ],
    },
  ]);
  expect(blob).toMatchObject({ platform: 'slack', service: 'groupgate', TimeToFirstVisibleText: 250 });
  expect(blob?.PlatformCallsPerReply).toBe(2);
});

it('keeps each reply to its own platform and values, and omits a wait that was not measured', () => {
  recordReplyMetrics('feishu', { timeToFirstVisibleMs: 90, platformCalls: 5 });
  recordReplyMetrics('slack', { platformCalls: 1 });
  recordReplyMetrics('feishu', { platformCalls: 3 });
  const published = blobs();
  expect(published.map((b) => [b.platform, b.TimeToFirstVisibleText, b.PlatformCallsPerReply])).toEqual([
    ['feishu', 90, 5],
    ['slack', undefined, 1],
    ['feishu', undefined, 3],
  ]);
  expect(published[1]?._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name)).toEqual([METRIC.platformCallsPerReply]);
});
