import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createWorkerRuntime } from '#composition/worker-runtime';
import { activeUserKey } from '#stores/active-users';
import { fakeModel, fakePlatform, queuedEvent, sqsRecordOf, workerConfig } from '../test/helpers/factories';
import { type CallFigures, traceCalls } from './dynamo-calls';
import type { Verdict } from './report';

/**
 * DynamoDB calls per message on real DynamoDB's path (replied status and turn in one TransactWriteItems), which no
 * local stand-in offers, so the worker runtime runs here against a mocked document client that answers as DynamoDB
 * does. Counts, not times: they are exact, so each path is measured once. `worker-bench.ts` measures the dynalite
 * path (no transactions) with real latency.
 *
 * Sequential round trips are what the member waits for (`dynamo-calls.ts`): claim ‖ reads, the `sending` fence (the
 * ledger and audit batch rides alongside it), then the transaction after the send.
 */
export const CALL_BUDGETS = { sequentialRoundTrips: 3, followUpCalls: 5, firstQuestionCalls: 7 } as const;

/** The same paths on fc99b8d (before issue 22), measured with this file's tracing. */
export const CALLS_BEFORE: Readonly<Record<BudgetPath, CallFigures>> = {
  'follow-up': { calls: 6, sequential: 3, byOperation: { Update: 2, Get: 1, BatchWrite: 1, Put: 1, TransactWrite: 1 } },
  'first-question': {
    calls: 8,
    sequential: 4,
    byOperation: { Update: 2, Get: 2, BatchWrite: 1, Put: 2, TransactWrite: 1 },
  },
};

export type BudgetPath = 'follow-up' | 'first-question';

export interface CallBudgetRow extends CallFigures {
  readonly path: BudgetPath;
  readonly budget: { readonly calls: number; readonly sequential: number };
  readonly before: CallFigures;
  readonly verdict: Verdict;
}

const NOW = 1_800_000_000_000;
/** Each mocked call answers after a network round trip, so calls overlap as they do against DynamoDB. */
const ROUND_TRIP_MS = 2;

function afterRoundTrip<T>(output: T): () => Promise<T> {
  return () => new Promise((resolve) => setTimeout(() => resolve(output), ROUND_TRIP_MS));
}
const MEMBER = { platform: 'slack', tenantId: 'T1', chatId: 'C1', userId: 'U1' } as const;

export async function runWorkerCallBudget(): Promise<CallBudgetRow[]> {
  return [
    await measure('follow-up', CALL_BUDGETS.followUpCalls, {
      // A conversation with history, from a member already counted active today.
      conversations: [
        {
          pk: 'slack#T1#C1#U1',
          turns: [
            { role: 'user', content: 'which port?', tokens: 3, at: NOW - 60_000, eventId: 'Ev0' },
            { role: 'assistant', content: '443', tokens: 1, at: NOW - 60_000, eventId: 'Ev0' },
          ],
          version: 3,
          expiresAt: NOW / 1000 + 600,
        },
      ],
      events: [{ pk: activeUserKey(MEMBER, NOW) }],
    }),
    // A new conversation, the member's first message of the day, a question not cached yet.
    await measure('first-question', CALL_BUDGETS.firstQuestionCalls, {}),
  ];
}

async function measure(
  path: BudgetPath,
  callBudget: number,
  stored: Readonly<Record<string, readonly Record<string, unknown>[]>>,
): Promise<CallBudgetRow> {
  const dynamo = new DynamoDBClient({ region: 'us-east-1' });
  const doc = DynamoDBDocumentClient.from(dynamo);
  const ddb = mockClient(doc);
  try {
    ddb.on(UpdateCommand).callsFake(afterRoundTrip({ Attributes: { attempts: 1 } }));
    ddb.on(BatchGetCommand).callsFake(afterRoundTrip({ Responses: stored }));
    ddb.on(BatchWriteCommand).callsFake(afterRoundTrip({}));
    ddb.on(PutCommand).callsFake(afterRoundTrip({}));
    ddb
      .on(TransactWriteCommand)
      .callsFake(afterRoundTrip({ ConsumedCapacity: [{ CapacityUnits: 2 }, { CapacityUnits: 2 }] }));
    const trace = traceCalls(doc);
    const processRecord = createWorkerRuntime({
      config: workerConfig(),
      clients: { doc: trace.doc },
      platforms: { slack: fakePlatform('slack') },
      model: fakeModel({ answer: 'It is 8443.' }),
      now: () => NOW,
    });
    const event = queuedEvent('slack', { text: 'and in staging?', receivedAt: NOW });
    const result = await processRecord(sqsRecordOf(event, { sentAt: NOW, firstReceivedAt: NOW }));
    if (result.kind !== 'replied') throw new Error(`the ${path} was not replied to: ${result.kind}`);
    const figures = trace.figures();
    const budget = { calls: callBudget, sequential: CALL_BUDGETS.sequentialRoundTrips };
    const within = figures.calls <= budget.calls && figures.sequential <= budget.sequential;
    return { path, ...figures, budget, before: CALLS_BEFORE[path], verdict: within ? 'PASS' : 'MISS' };
  } finally {
    ddb.restore();
  }
}

export function callBudgetTable(rows: readonly CallBudgetRow[]): string {
  const ops = (byOperation: CallFigures['byOperation']) =>
    Object.entries(byOperation)
      .map(([op, n]) => `${op}×${n}`)
      .join(' ');
  const header =
    'DynamoDB calls per worker message on DynamoDB (transactions; mocked client, exact counts), before = fc99b8d';
  const lines = rows.map(
    (r) =>
      `${`${r.path} (transaction)`.padEnd(30)} sequential ${r.sequential} (before ${r.before.sequential}, budget ≤ ${r.budget.sequential})  calls ${r.calls} (before ${r.before.calls}, budget ≤ ${r.budget.calls}) — ${r.verdict}  ${ops(r.byOperation)}  [before: ${ops(r.before.byOperation)}]`,
  );
  return [header, ...lines].join('\n');
}

// `npx tsx bench/worker-call-budget.ts`: these figures alone.
if (require.main === module) {
  void (async () => {
    const { logger } = await import('#shared/powertools');
    logger.setLogLevel('SILENT');
    console.log(callBudgetTable(await runWorkerCallBudget()));
  })();
}
