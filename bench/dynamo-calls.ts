import type { DocumentClient } from '#shared/json-document-client';

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

export interface TracedFigures extends CallFigures {
  /**
   * Wall time with at least one call in flight (the union of the calls' intervals): what the message spent waiting
   * on DynamoDB, its client included. Against in-process dynalite this is the stand-in's and the SDK's CPU.
   */
  readonly inFlightMs: number;
}

export interface CallTrace {
  /** The client to hand the code under test; every `send` is recorded. */
  readonly doc: DocumentClient;
  /** Forgets the calls so far (call before each message). */
  reset(): void;
  /** The calls since the last reset; a call still in flight counts as ending now. */
  figures(): TracedFigures;
}

interface Call {
  readonly operation: string;
  readonly startedAt: number;
  readonly startNs: bigint;
  endedAt?: number;
  endNs?: bigint;
}

export function traceCalls(doc: DocumentClient): CallTrace {
  let tick = 0;
  let calls: Call[] = [];
  const traced = new Proxy(doc, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver);
      return async (command: { constructor: { name: string } }, ...rest: unknown[]) => {
        const call: Call = {
          operation: command.constructor.name.replace(/Command$/, ''),
          startedAt: ++tick,
          startNs: process.hrtime.bigint(),
        };
        calls.push(call);
        try {
          return await (target.send as (...args: unknown[]) => Promise<unknown>).call(target, command, ...rest);
        } finally {
          call.endedAt = ++tick;
          call.endNs = process.hrtime.bigint();
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
      return figuresOf(calls, tick + 1, process.hrtime.bigint());
    },
  };
}

function figuresOf(calls: readonly Call[], now: number, nowNs: bigint): TracedFigures {
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
  return { calls: calls.length, sequential: Math.max(0, ...depth), byOperation, inFlightMs: unionMs(calls, nowNs) };
}

function unionMs(calls: readonly Call[], nowNs: bigint): number {
  const spans = calls.map((c) => [c.startNs, c.endNs ?? nowNs] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  let total = 0n;
  let open: bigint | undefined;
  let close = 0n;
  for (const [start, end] of spans) {
    if (open === undefined || start > close) {
      if (open !== undefined) total += close - open;
      open = start;
      close = end;
    } else if (end > close) {
      close = end;
    }
  }
  if (open !== undefined) total += close - open;
  return Number(total) / 1e6;
}
