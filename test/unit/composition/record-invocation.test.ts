import { createInvocationRecorder } from '#composition/record-invocation';
import type { PipelineConfig } from '#config/pipeline-config';
import { resolvePrices } from '#core/cost/prices';
import type { InvocationRecords } from '#core/records/invocation-records';
import type { InvocationToRecord } from '#core/records/invocation-work';
import { logger } from '#shared/powertools';
import type { Member } from '#stores/active-users';
import { CapacityMeter } from '#stores/capacity';
import { RecordsNotWrittenError } from '#stores/records-store';

const NOW = Date.parse('2026-11-25T10:00:00.000Z');
const config: Pick<PipelineConfig, 'model' | 'memoryMb' | 'ledgerRetentionDays' | 'auditRetentionDays'> = {
  model: {
    endpointName: 'groupgate-llm',
    modelId: 'private-llm-int8',
    instanceType: 'ml.g4dn.xlarge',
    contextWindow: 4096,
    maxTokens: 512,
    breakerCoolDownMs: 30_000,
  },
  memoryMb: 1024,
  ledgerRetentionDays: 400,
  auditRetentionDays: 365,
};

const outcome = {
  reply: 'hello',
  source: 'cache',
  storedQuestion: 'hi',
  inputFilter: 'allow',
  outputFilter: 'allow',
  piiFound: 0,
} as const;

const apiCall: InvocationToRecord = {
  kind: 'api',
  tenantId: 'svc',
  chatId: 'eng',
  userId: 'u1',
  principal: 'u1',
  requestId: 'req-1',
  outcome,
  startedAt: NOW,
  finishedAt: NOW + 20,
};

function recorder(options: { write?: () => Promise<void>; markActive?: (m: Member) => Promise<boolean> } = {}) {
  const written: InvocationRecords[] = [];
  const record = createInvocationRecorder({
    config,
    prices: resolvePrices('us-east-1'),
    maskPii: (text) => ({ text }),
    records: {
      write: async (records) => {
        written.push(records);
        await options.write?.();
      },
    },
    ...(options.markActive ? { activeUsers: { markActive: options.markActive } } : {}),
  });
  return { record, written };
}

beforeAll(() => logger.setLogLevel('SILENT'));

describe('createInvocationRecorder', () => {
  it('writes the ledger row and the audit record, billing their two write units', async () => {
    const { record, written } = recorder();
    const meter = new CapacityMeter();
    meter.add({ read: 1, write: 1 });
    await record(apiCall, meter);
    expect(written).toHaveLength(1);
    expect(written[0]?.ledger.usage.dynamodb).toEqual({ readRequestUnits: 1, writeRequestUnits: 3 });
    expect(written[0]?.audit).toMatchObject({ pk: 'GROUP#api#svc#eng', source: 'cache' });
  });

  it('counts the member as active alongside the write and bills the put as one more unit', async () => {
    const members: Member[] = [];
    const { record, written } = recorder({
      markActive: async (m) => {
        members.push(m);
        return true;
      },
    });
    await record(apiCall, new CapacityMeter());
    expect(members).toEqual([{ platform: 'api', tenantId: 'svc', chatId: 'eng', userId: 'u1' }]);
    expect(written[0]?.ledger.usage.dynamodb.writeRequestUnits).toBe(3);
  });

  it('rethrows what is unwritten, after the active-user count settled', async () => {
    let counted = false;
    const unwritten = new RecordsNotWrittenError({ ledger: [{ pk: 'x' }] });
    const { record } = recorder({
      write: async () => {
        throw unwritten;
      },
      markActive: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        counted = true;
        return false;
      },
    });
    await expect(record(apiCall, new CapacityMeter())).rejects.toBe(unwritten);
    expect(counted).toBe(true);
  });

  it('makes no put, and bills none, for a member the caller knows is counted today', async () => {
    const members: Member[] = [];
    const { record, written } = recorder({
      markActive: async (m) => {
        members.push(m);
        return true;
      },
    });
    await record(apiCall, new CapacityMeter(), { memberCountedToday: true });
    expect(members).toEqual([]);
    expect(written[0]?.ledger.usage.dynamodb.writeRequestUnits).toBe(2);
    // Not known to be counted: the conditional put decides, as without the option.
    await record(apiCall, new CapacityMeter(), { memberCountedToday: false });
    expect(members).toHaveLength(1);
    expect(written[1]?.ledger.usage.dynamodb.writeRequestUnits).toBe(3);
  });

  it('a failing active-user count never fails the records', async () => {
    const { record, written } = recorder({ markActive: () => Promise.reject(new Error('throttled')) });
    await record(apiCall, new CapacityMeter());
    expect(written).toHaveLength(1);
  });
});

describe('the ledger row of a model answer names the model that answered and prices it by its billing', () => {
  /** An outcome as the pipeline gives it: the answering model, and whether it was the primary or the fallback. */
  const answered = (
    model: {
      modelId: string;
      billing:
        | { kind: 'sagemaker'; instanceType: string }
        | { kind: 'lambda'; memoryMb: number; architecture: 'arm64' };
    },
    modelSource: 'primary' | 'fallback',
  ): InvocationToRecord => ({
    ...apiCall,
    outcome: {
      ...outcome,
      source: 'model',
      modelSource,
      model: {
        content: 'hello',
        finishReason: 'stop',
        promptTokens: 30,
        completionTokens: 10,
        latencyMs: 4_200,
        ...model,
      },
    },
  });

  it("a fallback on Lambda: source 'fallback', its GB-seconds in the Lambda line, no SageMaker time", async () => {
    const { record, written } = recorder();
    await record(
      answered(
        { modelId: 'fallback-cpu', billing: { kind: 'lambda', memoryMb: 3008, architecture: 'arm64' } },
        'fallback',
      ),
      new CapacityMeter(),
    );
    const ledger = written[0]?.ledger;
    expect(ledger).toMatchObject({ model: 'fallback-cpu', modelSource: 'fallback', source: 'model', cached: false });
    expect(ledger?.usage.sagemaker).toBeNull();
    expect(ledger?.usage.lambda).toEqual([
      { fn: 'chat-api', memoryMb: 1024, billedMs: 20, arch: 'arm64' },
      { fn: 'model', memoryMb: 3008, billedMs: 4_200, arch: 'arm64' },
    ]);
    // chat-api: 1024 MB × 20 ms = 0.02 GB-s × $0.0000133334 = 266.668 n$, + 200 n$ request;
    // fallback: 3008 MB × 4,200 ms = 12.3375 GB-s × $0.0000133334 = 164,500.8225 n$, + 200 n$ request;
    // together 165,167.4905 n$ → 165,167 n$ (165.167 µUSD).
    expect(ledger?.componentsNanoUsd.lambda).toBe(165_167);
    expect(ledger?.componentsNanoUsd.sagemaker).toBe(0);
    expect(ledger?.totalNanoUsd).toBeGreaterThan(165_167);
    expect(written[0]?.audit).toMatchObject({ model: 'fallback-cpu', modelLatencyMs: 4_200 });
  });

  it("the configured model: source 'primary', its endpoint time as SageMaker usage (control)", async () => {
    const { record, written } = recorder();
    await record(
      answered(
        { modelId: 'private-llm-int8', billing: { kind: 'sagemaker', instanceType: 'ml.g4dn.xlarge' } },
        'primary',
      ),
      new CapacityMeter(),
    );
    const ledger = written[0]?.ledger;
    expect(ledger).toMatchObject({ model: 'private-llm-int8', modelSource: 'primary' });
    expect(ledger?.usage.sagemaker).toEqual({ instanceType: 'ml.g4dn.xlarge', busyMs: 4_200 });
    expect(ledger?.usage.lambda.map((l) => l.fn)).toEqual(['chat-api']);
  });

  it('a cache hit keeps its row as before: no model source, no model line', async () => {
    const { record, written } = recorder();
    await record(apiCall, new CapacityMeter());
    expect(written[0]?.ledger).not.toHaveProperty('modelSource');
    expect(written[0]?.ledger.usage.lambda.map((l) => l.fn)).toEqual(['chat-api']);
  });
});
