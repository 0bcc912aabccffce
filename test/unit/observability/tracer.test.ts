import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * The tracer outside Lambda (jest, the sandbox) must change nothing; inside Lambda `traced` puts the call in its own
 * annotated subsegment. Each case loads tracer.ts afresh under its own environment, because the singleton reads it
 * once at cold start.
 */
type TracerModule = typeof import('#shared/tracer');

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function loadTracer(env: Record<string, string | undefined>): TracerModule {
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  let loaded: TracerModule | undefined;
  jest.isolateModules(() => {
    loaded = require('#shared/tracer') as TracerModule;
  });
  if (!loaded) throw new Error('tracer.ts did not load');
  return loaded;
}

describe('tracer outside Lambda', () => {
  const env = { AWS_EXECUTION_ENV: undefined, POWERTOOLS_TRACE_ENABLED: undefined };

  it('is disabled and runs traced calls as plain calls, errors included', async () => {
    const { tracer, traced } = loadTracer(env);
    expect(tracer.isTracingEnabled()).toBe(false);
    await expect(traced('model', { platform: 'slack' }, async () => 42)).resolves.toBe(42);
    await expect(
      traced('platform send', {}, async () => {
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
  });

  it('leaves AWS clients unpatched', () => {
    const { tracer } = loadTracer(env);
    const client = new DynamoDBClient({ region: 'us-east-1' });
    const before = client.middlewareStack.identify();
    expect(tracer.captureAWSv3Client(client)).toBe(client);
    expect(client.middlewareStack.identify()).toEqual(before);
  });

  it('stays off in Lambda when POWERTOOLS_TRACE_ENABLED=false', () => {
    const { tracer } = loadTracer({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', POWERTOOLS_TRACE_ENABLED: 'false' });
    expect(tracer.isTracingEnabled()).toBe(false);
  });
});

describe('tracer in Lambda', () => {
  it('records a traced call as a subsegment with its annotations and error', async () => {
    const { tracer, traced } = loadTracer({
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      POWERTOOLS_TRACE_ENABLED: undefined,
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
    });
    expect(tracer.isTracingEnabled()).toBe(true);
    const xray = require('aws-xray-sdk-core') as typeof import('aws-xray-sdk-core');
    const segment = new xray.Segment('worker-test');
    await xray.getNamespace().runAndReturn(async () => {
      tracer.setSegment(segment);
      await expect(traced('model', { modelId: 'm' }, async () => 'ok')).resolves.toBe('ok');
      await expect(
        traced('platform send', { platform: 'slack' }, async () => {
          throw new Error('refused');
        }),
      ).rejects.toThrow('refused');
    });
    const subsegments = (segment.subsegments ?? []) as unknown as {
      name: string;
      annotations?: Record<string, unknown>;
      fault?: boolean;
      in_progress?: boolean;
    }[];
    expect(subsegments.map((s) => [s.name, s.annotations, s.in_progress ?? false])).toEqual([
      ['### model', { modelId: 'm' }, false],
      ['### platform send', { platform: 'slack' }, false],
    ]);
    expect(subsegments[1]?.fault).toBe(true);
  });
});
