import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Counts a message's DynamoDB calls through the document client: how many, by operation, and how many of them the
 * member waited for one after another (sequential round trips).
 *
 * Sequential round trips = the longest chain of calls in which each starts after the previous one ended; calls in
 * flight together share a step. Order is taken from a logical clock (one tick per start and per end), not from
 * timestamps, so the figure is exact even against a mocked client that answers in the same millisecond.
 */
export interface CallFigures {
  readonly calls: number;
  readonly sequential: number;
  readonly byOperation: Readonly<Record<string, number>>;
}

export interface CallTrace {
  /** The client to hand the code under test; every `send` is recorded. */
  readonly doc: DynamoDBDocumentClient;
  /** Forgets the calls so far (call before each message). */
  reset(): void;
  /** The calls since the last reset; a call still in flight counts as ending now. */
  figures(): CallFigures;
}

interface Call {
  readonly operation: string;
  readonly startedAt: number;
  endedAt?: number;
}

export function traceCalls(doc: DynamoDBDocumentClient): CallTrace {
  let tick = 0;
  let calls: Call[] = [];
  const traced = new Proxy(doc, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver);
      return async (command: { constructor: { name: string } }, ...rest: unknown[]) => {
        const call: Call = { operation: command.constructor.name.replace(/Command$/, ''), startedAt: ++tick };
        calls.push(call);
        try {
          return await (target.send as (...args: unknown[]) => Promise<unknown>).call(target, command, ...rest);
        } finally {
          call.endedAt = ++tick;
        }
      };
    },
  });
  return {
    doc: traced,
    reset() {
      calls = [];
    },
    figures() {
      return figuresOf(calls, tick + 1);
    },
  };
}

function figuresOf(calls: readonly Call[], now: number): CallFigures {
  const byOperation: Record<string, number> = {};
  const depth: number[] = [];
  calls.forEach((call, i) => {
    byOperation[call.operation] = (byOperation[call.operation] ?? 0) + 1;
    // Calls are recorded in start order, so every call that could precede this one comes before it.
    let before = 0;
    for (let j = 0; j < i; j++) {
      if ((calls[j]?.endedAt ?? now) < call.startedAt) before = Math.max(before, depth[j] ?? 0);
    }
    depth.push(before + 1);
  });
  return { calls: calls.length, sequential: Math.max(0, ...depth), byOperation };
}
