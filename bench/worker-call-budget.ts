import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createWorkerRuntime } from '#composition/worker-runtime';
import { fakeModel, fakePlatform, queuedEvent, sqsRecordOf, workerConfig } from '../test/helpers/factories';
import type { Verdict } from './report';

/**
 * DynamoDB round trips per follow-up on real DynamoDB's path (replied status and turn in one TransactWriteItems),
 * which no local stand-in offers, so the worker runtime runs here against a mocked document client that answers as
 * DynamoDB does. A count, not a time: it is exact, so it is measured once. `worker-bench.ts` measures the dynalite
 * path (no transactions) with real latency.
 *
 * Budget: claim, context read, markSending, the transaction, the ledger + audit batch, the active-user put.
 */
export const CALL_BUDGETS = { followUpDynamoCalls: 6 } as const;

export interface CallBudgetRow {
  readonly path: string;
  readonly calls: number;
  readonly budget: number;
  readonly byOperation: Readonly<Record<string, number>>;
  readonly verdict: Verdict;
}

const NOW = 1_800_000_000_000;

export async function runWorkerCallBudget(): Promise<CallBudgetRow[]> {
  const dynamo = new DynamoDBClient({ region: 'us-east-1' });
  const doc = DynamoDBDocumentClient.from(dynamo);
  const ddb = mockClient(doc);
  try {
    ddb.on(UpdateCommand).resolves({ Attributes: { attempts: 1 } });
    ddb.on(GetCommand).resolves({
      Item: {
        pk: 'slack#T1#C1#U1',
        turns: [
          { role: 'user', content: 'which port?', tokens: 3, at: NOW - 60_000, eventId: 'Ev0' },
          { role: 'assistant', content: '443', tokens: 1, at: NOW - 60_000, eventId: 'Ev0' },
        ],
        version: 3,
        expiresAt: NOW / 1000 + 600,
      },
    });
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({ ConsumedCapacity: [{ CapacityUnits: 2 }, { CapacityUnits: 2 }] });
    const processRecord = createWorkerRuntime({
      config: workerConfig(),
      clients: { dynamo, doc, sqs: new SQSClient({ region: 'us-east-1' }) },
      platforms: { slack: fakePlatform('slack') },
      model: fakeModel({ answer: 'It is 8443.' }),
      now: () => NOW,
    });
    const event = queuedEvent('slack', { text: 'and in staging?', receivedAt: NOW });
    const result = await processRecord(sqsRecordOf(event, { sentAt: NOW, firstReceivedAt: NOW }));
    if (result.kind !== 'replied') throw new Error(`the follow-up was not replied to: ${result.kind}`);
    const byOperation: Record<string, number> = {};
    for (const call of ddb.calls()) {
      const name = (call.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, '');
      byOperation[name] = (byOperation[name] ?? 0) + 1;
    }
    const calls = ddb.calls().length;
    const budget = CALL_BUDGETS.followUpDynamoCalls;
    return [
      { path: 'follow-up (transaction)', calls, budget, byOperation, verdict: calls <= budget ? 'PASS' : 'MISS' },
    ];
  } finally {
    ddb.restore();
  }
}

export function callBudgetTable(rows: readonly CallBudgetRow[]): string {
  const header = 'DynamoDB round trips per worker message, on DynamoDB (mocked client; counts are exact)';
  const lines = rows.map((r) => {
    const ops = Object.entries(r.byOperation)
      .map(([op, n]) => `${op}×${n}`)
      .join(' ');
    return `${r.path.padEnd(24)} ${r.calls} calls (budget ≤ ${r.budget}) — ${r.verdict}  ${ops}`;
  });
  return [header, ...lines].join('\n');
}

// `npx tsx bench/worker-call-budget.ts`: this figure alone.
if (require.main === module) {
  void (async () => {
    const { logger } = await import('#shared/powertools');
    logger.setLogLevel('SILENT');
    console.log(callBudgetTable(await runWorkerCallBudget()));
  })();
}
