/**
 * The tracer outside Lambda (jest, the sandbox, the bench) must change nothing and must not load the X-Ray SDK,
 * whose automatic mode hooks every promise of the process; inside Lambda `traced` puts the call in its own annotated
 * subsegment. Each case loads tracer.ts afresh under its own environment, because the singleton reads it once at
 * cold start.
 */
type TracerModule = typeof import('#shared/tracer');

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function loadTracer(env: Record<string, string | undefined>, options: { forbidXray?: boolean } = {}): TracerModule {
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  let loaded: TracerModule | undefined;
  jest.isolateModules(() => {
    if (options.forbidXray) {
      jest.doMock('@aws-lambda-powertools/tracer', () => {
        throw new Error('the Powertools Tracer (and aws-xray-sdk-core) was loaded');
      });
    } else {
      jest.dontMock('@aws-lambda-powertools/tracer');
    }
    loaded = require('#shared/tracer') as TracerModule;
  });
  if (!loaded) throw new Error('tracer.ts did not load');
  return loaded;
}

function enabledTracer(module: TracerModule) {
  if (!module.tracer) throw new Error('expected a Tracer');
  return module.tracer;
}

describe('tracingEnabled follows Powertools', () => {
  it.each([
    [{}, false],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' }, true],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', POWERTOOLS_TRACE_ENABLED: 'FALSE' }, false],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', POWERTOOLS_TRACE_ENABLED: 'true' }, true],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', AWS_SAM_LOCAL: 'true' }, false],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_amplify-mock' }, false],
    [{ POWERTOOLS_TRACE_ENABLED: 'true' }, false],
  ])('%j → %s', (env, expected) => {
    const { tracingEnabled } = loadTracer({});
    expect(tracingEnabled(env)).toBe(expected);
  });
});

describe('tracer outside Lambda', () => {
  const env = { AWS_EXECUTION_ENV: undefined, POWERTOOLS_TRACE_ENABLED: undefined };

  it('never loads the X-Ray SDK and runs traced calls as plain calls, errors included', async () => {
    const { tracer, traced, handlerTracing } = loadTracer(env, { forbidXray: true });
    expect(tracer).toBeUndefined();
    expect(handlerTracing()).toEqual([]);
    await expect(traced('model', { platform: 'slack' }, async () => 42)).resolves.toBe(42);
    await expect(
      traced('platform send', {}, async () => {
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
  });

  it('stays off in Lambda when POWERTOOLS_TRACE_ENABLED=false', () => {
    const { tracer } = loadTracer(
      { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', POWERTOOLS_TRACE_ENABLED: 'false' },
      { forbidXray: true },
    );
    expect(tracer).toBeUndefined();
  });
});

describe('tracer in Lambda', () => {
  it('records a traced call as a subsegment with its annotations and error', async () => {
    const loaded = loadTracer({
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      POWERTOOLS_TRACE_ENABLED: undefined,
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
    });
    const { traced, handlerTracing } = loaded;
    const tracer = enabledTracer(loaded);
    expect(tracer.isTracingEnabled()).toBe(true);
    expect(handlerTracing()).toHaveLength(1);
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
