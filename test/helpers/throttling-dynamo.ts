import { BatchWriteCommand, type BatchWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { DocumentClient } from '#shared/json-document-client';

/**
 * A throttling stand-in in front of a real (dynalite) document client: `BatchWriteItem` calls leave items unwritten
 * and hand them back as `UnprocessedItems`, as DynamoDB does under throttling. Every other call goes through.
 * - `all`: the next `calls` batch writes write nothing.
 * - `partial`: the next `calls` batch writes write only their first item.
 */
export interface Throttle {
  mode: 'all' | 'partial';
  /** How many more batch writes are throttled. */
  calls: number;
  /** Batch writes seen, throttled or not. */
  seen: number;
}

type RequestItems = NonNullable<BatchWriteCommandInput['RequestItems']>;

export function throttlingDoc(real: DocumentClient, throttle: Throttle): DocumentClient {
  const send = async (command: unknown) => {
    if (!(command instanceof BatchWriteCommand)) return real.send(command as never);
    throttle.seen++;
    if (throttle.calls <= 0) return real.send(command);
    throttle.calls--;
    const requested = command.input.RequestItems ?? {};
    if (throttle.mode === 'all') return { UnprocessedItems: requested, ConsumedCapacity: [] };
    const [first, rest] = splitFirst(requested);
    const out = await real.send(new BatchWriteCommand({ RequestItems: first }));
    return { ...out, UnprocessedItems: rest };
  };
  return new Proxy(real, {
    get: (target, prop, receiver) => (prop === 'send' ? send : Reflect.get(target, prop, receiver)),
  });
}

function splitFirst(items: RequestItems): [RequestItems, RequestItems] {
  const first: RequestItems = {};
  const rest: RequestItems = {};
  let taken = false;
  for (const [table, requests] of Object.entries(items)) {
    for (const request of requests) {
      const into = taken ? rest : first;
      taken = true;
      into[table] = [...(into[table] ?? []), request];
    }
  }
  return [first, rest];
}
