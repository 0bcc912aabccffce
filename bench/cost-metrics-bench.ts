import { randomUUID } from 'node:crypto';
import { costOfInvocation, parseUsage } from '#core/cost/cost-model';
import { buildLedgerRow } from '#core/cost/ledger-row';
import { resolvePrices } from '#core/cost/prices';
import { createPiiMasker } from '#core/safety/pii';
import { METRIC, metrics, recordMetric, recordOutcome } from '#shared/metrics';
import { nsToMs, summarise } from './stats';

/**
 * Issue 8's budget: the cost and metrics work may add at most 1 ms (median) to the worker per message. This times
 * exactly that CPU work as the worker does it (usage validation, exact costing, ledger row, masked audit answer,
 * EMF metrics and their flush), without the DynamoDB write it shares with the audit row.
 */
export function runCostMetricsBench(iterations = 2_000) {
  const prices = resolvePrices('us-east-1');
  const maskPii = createPiiMasker();
  const reply = '值班表在 wiki 上：本周 on-call 是 Alice (13800138000)，有问题请联系 ops@example.com。'.repeat(4);
  const outcome = {
    source: 'model' as const,
    outputFilter: 'allow' as const,
    model: {
      content: reply,
      finishReason: 'stop' as const,
      promptTokens: 812,
      completionTokens: 164,
      latencyMs: 1834,
      modelId: 'private-llm-int8',
      billing: { kind: 'sagemaker' as const, instanceType: 'ml.g4dn.xlarge' },
    },
  };
  const originalWrite = process.stdout.write.bind(process.stdout);
  const samples: number[] = [];
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    for (let i = 0; i < iterations; i++) {
      const t0 = process.hrtime.bigint();
      const usage = parseUsage({
        apiGatewayRequests: 1,
        lambda: [
          { fn: 'webhook', memoryMb: 256, billedMs: 4, arch: 'arm64' },
          { fn: 'worker', memoryMb: 1024, billedMs: 1900, arch: 'arm64' },
        ],
        sqsPayloadBytes: 1_900,
        sqsRequests: { send: 1, receive: 1, delete: 1 },
        dynamodb: { readRequestUnits: 1.5, writeRequestUnits: 7 },
        logBytes: 2_000,
        sagemaker: { instanceType: 'ml.g4dn.xlarge', busyMs: 1834 },
        tokens: { prompt: 812, completion: 164 },
      });
      const row = buildLedgerRow({
        invocationId: randomUUID(),
        eventId: `Ev${i}`,
        platform: 'slack',
        tenantId: 'T1',
        chatId: 'C1',
        userId: 'U1',
        at: new Date(),
        model: 'private-llm-int8',
        latencyMs: 1900,
        cached: false,
        usage,
        breakdown: costOfInvocation(usage, prices),
        retentionDays: 400,
      });
      maskPii(reply);
      recordOutcome(outcome);
      recordMetric(METRIC.queueWaitMs, 12);
      recordMetric(METRIC.repliesDelivered);
      metrics.publishStoredMetrics();
      if (row.totalUsd <= 0) throw new Error('cost must be positive');
      samples.push(nsToMs(process.hrtime.bigint() - t0));
    }
  } finally {
    process.stdout.write = originalWrite;
  }
  return summarise(samples.slice(Math.floor(iterations / 10)));
}

if (require.main === module) {
  const s = runCostMetricsBench();
  console.log(`cost + metrics per message: median ${s.medianMs.toFixed(3)} ms, p99 ${s.p99Ms.toFixed(3)} ms`);
}
