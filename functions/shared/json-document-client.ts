import { randomUUID } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import * as dynamodb from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { type AwsJsonClient, AwsServiceError } from './aws-json-client';

/** What the stores use of a document client: `send` with lib-dynamodb's commands. */
export type DocumentClient = Pick<DynamoDBDocumentClient, 'send'>;

/**
 * Wraps each call, e.g. in an X-Ray subsegment (`traced` of `tracer.ts`). Passed in rather than imported: the
 * webhook builds this client for WeCom's refresh callbacks, and its bundle must not carry the X-Ray SDK.
 */
export type CallWrapper = <T>(
  name: string,
  annotations: Readonly<Record<string, string>>,
  call: () => Promise<T>,
) => Promise<T>;

const unwrapped: CallWrapper = (_name, _annotations, call) => call();

/**
 * A document client over the hand-signed JSON client (`aws-json-client.ts`): the stores keep lib-dynamodb's commands
 * and native values, and each call skips the SDK's middleware stack. Against dynalite a call through the SDK's
 * client took about twice as long as the same call hand-signed (docs/PERFORMANCE.md §6), and the worker makes five
 * to eight calls per message; in Lambda that is CPU on every member's answer.
 *
 * What it does as lib-dynamodb does: marshalling of native values with `removeUndefinedValues` (the project's
 * document-client setting) and unmarshalling of outputs, for the commands the stores send (others are refused
 * loudly, not sent wrong); errors as the SDK's own exception classes (`instanceof ConditionalCheckFailedException`,
 * `TransactionCanceledException`'s `CancellationReasons`, error `Item`s left as attribute values, as the SDK leaves
 * them); and the SDK's standard retries (the JSON client). `wrap` makes each call an X-Ray subsegment in the
 * functions that trace.
 */
export function createJsonDocumentClient(client: AwsJsonClient, wrap: CallWrapper = unwrapped): DocumentClient {
  const send = async (command: object): Promise<unknown> => {
    const operation = operationOf(command);
    const input = (command as { input: NativeDocument }).input;
    const annotations: Record<string, string> = { operation: operation.name };
    if (typeof input.TableName === 'string') annotations.table = input.TableName;
    const output = await wrap(`DynamoDB ${operation.name}`, annotations, () =>
      client.call(operation.name, operation.marshal(input)).catch((err: unknown) => {
        throw sdkShapedError(err);
      }),
    );
    return { ...operation.unmarshal(output), $metadata: {} };
  };
  return { send: send as DocumentClient['send'] };
}

type NativeDocument = Readonly<Record<string, unknown>>;
type Wire = Readonly<Record<string, unknown>>;

interface Operation {
  readonly name: string;
  marshal(input: NativeDocument): Wire;
  unmarshal(output: Wire): NativeDocument;
}

const MARSHALL_OPTIONS = { removeUndefinedValues: true } as const;

const toWire = (item: unknown): Record<string, AttributeValue> =>
  marshall(item as Record<string, unknown>, MARSHALL_OPTIONS);
const fromWire = (item: unknown): Record<string, unknown> => unmarshall(item as Record<string, AttributeValue>);

/** `document` with the named members converted by `convert`, the others as they are. */
function converting(document: Readonly<Record<string, unknown>>, members: Record<string, (value: unknown) => unknown>) {
  const out: Record<string, unknown> = { ...document };
  for (const [key, convert] of Object.entries(members)) {
    const value = document[key];
    if (value !== undefined) out[key] = convert(value);
  }
  return out;
}

const each =
  (convert: (value: unknown) => unknown) =>
  (list: unknown): unknown =>
    (list as readonly unknown[]).map(convert);
const perTable =
  (convert: (value: unknown) => unknown) =>
  (byTable: unknown): unknown =>
    Object.fromEntries(Object.entries(byTable as Record<string, unknown>).map(([table, v]) => [table, convert(v)]));

/** Key, Item and ExpressionAttributeValues of a single-item request (also inside TransactWriteItems). */
const itemRequest = (direction: (value: unknown) => unknown) => (request: unknown) =>
  converting(request as NativeDocument, { Key: direction, Item: direction, ExpressionAttributeValues: direction });

const keysAndAttributes = (direction: (value: unknown) => unknown) => (entry: unknown) =>
  converting(entry as NativeDocument, { Keys: each(direction) });

const writeRequest = (direction: (value: unknown) => unknown) => (request: unknown) =>
  converting(request as NativeDocument, {
    PutRequest: (put) => converting(put as NativeDocument, { Item: direction }),
    DeleteRequest: (del) => converting(del as NativeDocument, { Key: direction }),
  });

const transactItem = (request: unknown) =>
  converting(request as NativeDocument, {
    ConditionCheck: itemRequest(toWire),
    Put: itemRequest(toWire),
    Delete: itemRequest(toWire),
    Update: itemRequest(toWire),
  });

const singleItem = (name: string): Operation => ({
  name,
  marshal: (input) => itemRequest(toWire)(input) as Wire,
  unmarshal: (output) => converting(output, { Item: fromWire, Attributes: fromWire }),
});

const pageOf = (name: string): Operation => ({
  name,
  marshal: (input) => converting(input, { ExclusiveStartKey: toWire, ExpressionAttributeValues: toWire }),
  unmarshal: (output) => converting(output, { Items: each(fromWire), LastEvaluatedKey: fromWire }),
});

const OPERATIONS: readonly (readonly [new (...args: never[]) => object, Operation])[] = [
  [GetCommand, singleItem('GetItem')],
  [PutCommand, singleItem('PutItem')],
  [UpdateCommand, singleItem('UpdateItem')],
  [DeleteCommand, singleItem('DeleteItem')],
  [QueryCommand, pageOf('Query')],
  [ScanCommand, pageOf('Scan')],
  [
    BatchGetCommand,
    {
      name: 'BatchGetItem',
      marshal: (input) => converting(input, { RequestItems: perTable(keysAndAttributes(toWire)) }),
      unmarshal: (output) =>
        converting(output, {
          Responses: perTable(each(fromWire)),
          UnprocessedKeys: perTable(keysAndAttributes(fromWire)),
        }),
    },
  ],
  [
    BatchWriteCommand,
    {
      name: 'BatchWriteItem',
      marshal: (input) => converting(input, { RequestItems: perTable(each(writeRequest(toWire))) }),
      unmarshal: (output) => converting(output, { UnprocessedItems: perTable(each(writeRequest(fromWire))) }),
    },
  ],
  [
    TransactWriteCommand,
    {
      name: 'TransactWriteItems',
      // The SDK fills the idempotency token itself; without it, a retry of a commit whose answer was lost would be
      // cancelled by its own writes. Set once per call, so every retry of it carries the same token.
      marshal: (input) => ({
        ...converting(input, { TransactItems: each(transactItem) }),
        ClientRequestToken: input.ClientRequestToken ?? randomUUID(),
      }),
      unmarshal: (output) => output,
    },
  ],
];

function operationOf(command: object): Operation {
  for (const [type, operation] of OPERATIONS) if (command instanceof type) return operation;
  throw new TypeError(`json-document-client: ${command.constructor.name} is not supported; add it to OPERATIONS`);
}

/**
 * The SDK's exception class for the error's code, so the stores' `instanceof` checks hold; an unknown code becomes
 * a `DynamoDBServiceException` carrying the code as its name. Other errors (network, timeouts) pass unchanged.
 */
function sdkShapedError(err: unknown): unknown {
  if (!(err instanceof AwsServiceError)) return err;
  const detail = err.body.message ?? err.body.Message;
  const options = {
    ...err.body,
    name: err.code,
    message: typeof detail === 'string' ? detail : err.message,
    $fault: err.statusCode >= 500 ? ('server' as const) : ('client' as const),
    $metadata: { httpStatusCode: err.statusCode },
  };
  const named = (dynamodb as Readonly<Record<string, unknown>>)[err.code];
  if (typeof named === 'function' && named.prototype instanceof dynamodb.DynamoDBServiceException) {
    return new (named as new (opts: typeof options) => Error)(options);
  }
  return new dynamodb.DynamoDBServiceException(options);
}
