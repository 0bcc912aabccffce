import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * An EMULATION of DynamoDB's TransactWriteItems in front of dynalite; dynalite itself has no transactions (it
 * answers UnknownOperationException). `serveTransactions` wraps the dynalite http.Server's request listener:
 * TransactWriteItems is answered here, every other operation goes to dynalite unchanged. The transaction is built
 * from dynalite's own single-item requests, dispatched in-process, so items, conditions and expressions are
 * evaluated by dynalite exactly as its PutItem/UpdateItem/DeleteItem would.
 *
 * - Isolation: a transaction holds the server's write lock alone; single-item and batch writes (PutItem, UpdateItem,
 *   DeleteItem, BatchWriteItem) share it with each other, so no write lands between a transaction's condition checks
 *   and its writes (`TransactionLock`). Reads do not take it.
 * - Atomicity: under the lock, the items are applied in order as their single-item requests, each carrying its own
 *   condition and asking for its old image (ConditionCheck items: a consistent read, then the condition checked
 *   without a write, as a conditional no-op: PutItem of the unchanged old image, or DeleteItem of the absent item).
 *   When one fails, the items already written are put back to their old images before anything else may write;
 *   a failed condition is then answered with TransactionCanceledException, one reason per item from each condition
 *   checked against a consistent read (`Item` = the old image when the item asked
 *   `ReturnValuesOnConditionCheckFailure: ALL_OLD`), and any other error as dynalite answered it. One dynalite call
 *   per item on success keeps the transaction about as cheap as the writes it replaces.
 * - Validation: 1–100 items, exactly one of ConditionCheck/Put/Update/Delete each, no two on one item, errors of the
 *   underlying single requests as dynalite answers them (ValidationException), nothing written.
 * - ClientRequestToken: the same token with the same request within 10 minutes answers the first outcome without
 *   applying anything again (DynamoDB's replay answers read units as ConsumedCapacity; this replays the first
 *   answer as it was); the same token with another request answers IdempotentParameterMismatchException.
 * - ReturnConsumedCapacity TOTAL/INDEXES: per table, 2 × the units dynalite counts for each write (transactional
 *   writes cost double), 2 × the consistent-read units of each ConditionCheck's item.
 *
 * Not emulated: TransactGetItems, TransactionConflictException (the lock serialises instead of cancelling), and an
 * Update's UpdateExpression errors against its item are found only when the items before it applied (DynamoDB
 * finds them before any condition fails).
 */
export function serveTransactions(server: Server): void {
  const [dynalite, ...others] = server.listeners('request') as DynaliteHandler[];
  if (!dynalite || others.length > 0)
    throw new Error('serveTransactions: expected dynalite as the only request listener');
  const call = inProcess(dynalite);
  const lock = new TransactionLock();
  const keySchemas = new KeySchemas(call);
  const tokens = new TokenWindow(TOKEN_WINDOW_MS);

  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const operation = operationOf(req);
    if (operation === 'TransactWriteItems') {
      void readBody(req)
        .then((body) => lock.exclusive(() => transactWrite(body, { call, keySchemas, tokens })))
        .catch((err: unknown) => ({
          status: 500,
          body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: String(err) },
        }))
        .then((answer) => send(res, answer));
      return;
    }
    if (operation !== undefined && TABLE_CHANGES.has(operation)) keySchemas.forget();
    if (operation === undefined || !LOCKED_WRITES.has(operation)) return dynalite(req, res);
    // The body is read first and dynalite answers into a stand-in, so the lock is held exactly while dynalite works:
    // not while a client sends slowly, and not released early when a client gives up (the write still lands, as
    // on DynamoDB once the request arrived).
    void readBody(req)
      .then((body) => lock.shared(() => replay(dynalite, req, body)))
      .then(
        (answer) => res.writeHead(answer.status, answer.headers).end(answer.body),
        () => undefined,
      );
  });
}

const TARGET_PREFIX = 'DynamoDB_20120810.';
const LOCKED_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
const TABLE_CHANGES = new Set(['CreateTable', 'DeleteTable', 'UpdateTable']);
const MAX_ITEMS = 100;
const TOKEN_WINDOW_MS = 10 * 60_000;
const ACTIONS = ['ConditionCheck', 'Put', 'Delete', 'Update'] as const;
const TYPE = {
  cancelled: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
  mismatch: 'com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException',
  validation: 'com.amazon.coral.validate#ValidationException',
  serialization: 'com.amazon.coral.service#SerializationException',
} as const;

type DynaliteHandler = (req: IncomingMessage, res: ServerResponse) => void;
type Json = Readonly<Record<string, unknown>>;
type Action = (typeof ACTIONS)[number];
/** An HTTP answer: status and JSON body, dynalite's or this module's. */
interface Answer {
  readonly status: number;
  readonly body: Json;
}
type Call = (operation: string, input: Json) => Promise<Answer>;

interface TransactItem {
  readonly action: Action;
  readonly request: Json;
  readonly table: string;
  readonly key: Json;
  /** `ReturnValuesOnConditionCheckFailure: ALL_OLD`: a failed condition's reason carries the old image. */
  readonly returnsOld: boolean;
}

interface Context {
  readonly call: Call;
  readonly keySchemas: KeySchemas;
  readonly tokens: TokenWindow;
}

function operationOf(req: IncomingMessage): string | undefined {
  const target = req.headers['x-amz-target'];
  return req.method === 'POST' && typeof target === 'string' && target.startsWith(TARGET_PREFIX)
    ? target.slice(TARGET_PREFIX.length)
    : undefined;
}

async function transactWrite(text: string, ctx: Context): Promise<Answer> {
  let input: Json;
  try {
    input = JSON.parse(text) as Json;
  } catch {
    return { status: 400, body: { __type: TYPE.serialization } };
  }
  const token = input.ClientRequestToken;
  if (token !== undefined && (typeof token !== 'string' || token.length < 1 || token.length > 36)) {
    return validation(
      "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 1 and 36",
    );
  }
  if (typeof token !== 'string') return execute(input, ctx);
  const first = ctx.tokens.get(token, Date.now());
  if (first) {
    if (sameRequest(first.request, text, input)) return first.answer;
    return {
      status: 400,
      body: {
        __type: TYPE.mismatch,
        Message: 'The request uses the same client token as a previous, but non-identical request.',
      },
    };
  }
  const answer = await execute(input, ctx);
  // Outcomes of the transaction itself are kept; a request refused before it ran (validation) may be sent again.
  if (answer.status === 200 || answer.body.__type === TYPE.cancelled) ctx.tokens.set(token, text, answer, Date.now());
  return answer;
}

/**
 * Whether a request repeats the first one with its token (kept as its text): the same text, or the same members in
 * another order. The text is kept rather than a canonical form so that only a reused token pays for sorting
 * (a transaction carries whole items).
 */
function sameRequest(firstText: string, text: string, input: Json): boolean {
  if (firstText === text) return true;
  const withoutToken = ({ ClientRequestToken: _token, ...rest }: Json) => canonical(rest);
  return withoutToken(JSON.parse(firstText) as Json) === withoutToken(input);
}

async function execute(input: Json, ctx: Context): Promise<Answer> {
  const parsed = await parseItems(input.TransactItems, ctx.keySchemas);
  if ('status' in parsed) return parsed;
  const items = parsed.items;
  const units = new CapacityCount();
  const failed = await applyInOrder(items, ctx.call, units);
  return failed
    ? explainFailure(items, failed, ctx.call)
    : { status: 200, body: units.answer(input.ReturnConsumedCapacity) };
}

/**
 * The fast path, one dynalite call per item: checks, then each write carrying its own condition in order, under the
 * exclusive lock, so nothing can land in between. A write that fails (its condition or anything else) puts back
 * what was written before it from the old images its predecessors returned (`ReturnValues: ALL_OLD`), and the
 * failure is answered by `explainFailure`, which sees the items as they were.
 */
async function applyInOrder(
  items: readonly TransactItem[],
  call: Call,
  units: CapacityCount,
): Promise<Answer | undefined> {
  for (const item of items) {
    if (item.action !== 'ConditionCheck') continue;
    const old = await call('GetItem', {
      TableName: item.table,
      Key: item.key,
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    });
    if (old.status !== 200) return old;
    const failure = await checkCondition(item, old.body.Item as Json | undefined, call);
    if (failure) return failure;
    units.add(item.table, 'read', old.body.ConsumedCapacity);
  }
  const written: { item: TransactItem; old: Json | undefined }[] = [];
  for (const item of items) {
    if (item.action === 'ConditionCheck') continue;
    const answer = await call(`${item.action}Item`, {
      ...item.request,
      ReturnValues: 'ALL_OLD',
      ReturnConsumedCapacity: 'TOTAL',
    });
    if (answer.status !== 200) {
      for (const { item: done, old } of written.reverse()) await restore(done, old, call);
      return answer;
    }
    written.push({ item, old: answer.body.Attributes as Json | undefined });
    units.add(item.table, 'write', answer.body.ConsumedCapacity);
  }
  return undefined;
}

/**
 * A transaction that did not commit, nothing of it written. A request dynalite refused is answered with its error
 * (DynamoDB validates before it evaluates conditions); a failed condition with every item's condition checked
 * against a consistent read, as DynamoDB reports them: one reason per item, the old image where asked.
 */
async function explainFailure(items: readonly TransactItem[], failed: Answer, call: Call): Promise<Answer> {
  if (!isConditionFailure(failed)) return failed;
  const olds = await Promise.all(
    items.map((item) => call('GetItem', { TableName: item.table, Key: item.key, ConsistentRead: true })),
  );
  const failedRead = olds.find((answer) => answer.status !== 200);
  if (failedRead) return failedRead;
  const oldImages = olds.map((answer) => answer.body.Item as Json | undefined);
  const checks = await Promise.all(items.map((item, i) => checkCondition(item, oldImages[i], call)));
  const invalid = checks.find((answer) => answer !== undefined && !isConditionFailure(answer));
  if (invalid) return invalid;
  return checks.some((answer) => answer !== undefined) ? cancelled(items, checks, oldImages) : failed;
}

/** Transactional capacity per table: twice the units dynalite counts for each write and each check's read. */
class CapacityCount {
  private readonly units = new Map<string, { write: number; read: number }>();

  add(table: string, kind: 'write' | 'read', capacity: unknown): void {
    const perTable = this.units.get(table) ?? { write: 0, read: 0 };
    perTable[kind] += 2 * (((capacity as Json | undefined)?.CapacityUnits as number | undefined) ?? 1);
    this.units.set(table, perTable);
  }

  answer(mode: unknown): Json {
    return consumedCapacity(mode, this.units);
  }
}

async function parseItems(list: unknown, keySchemas: KeySchemas): Promise<{ items: TransactItem[] } | Answer> {
  if (!Array.isArray(list)) {
    return validation(
      "1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null",
    );
  }
  if (list.length < 1 || list.length > MAX_ITEMS) {
    return validation(
      `1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length ${
        list.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ITEMS}`
      }`,
    );
  }
  const items: TransactItem[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of (list as unknown[]).entries()) {
    const actions = ACTIONS.filter((action) => isObject((entry as Json | null)?.[action]));
    const [action] = actions;
    if (action === undefined || actions.length > 1) {
      return validation('TransactItems can only contain one of Check, Put, Update or Delete');
    }
    const { ReturnValuesOnConditionCheckFailure: returns, ...request } = (entry as Json)[action] as Json;
    const table = request.TableName;
    if (typeof table !== 'string') {
      return validation(
        `1 validation error detected: Value null at 'transactItems.${i + 1}.member.${lowerFirst(action)}.tableName' failed to satisfy constraint: Member must not be null`,
      );
    }
    if (action === 'ConditionCheck' && typeof request.ConditionExpression !== 'string') {
      return validation(
        `1 validation error detected: Value null at 'transactItems.${i + 1}.member.conditionCheck.conditionExpression' failed to satisfy constraint: Member must not be null`,
      );
    }
    const schema = await keySchemas.of(table);
    if ('status' in schema) return schema;
    const source = (action === 'Put' ? request.Item : request.Key) as Json | undefined;
    const missing = action === 'Put' && schema.attributes.find((name) => source?.[name] === undefined);
    if (missing) return validation(`One or more parameter values were invalid: Missing the key ${missing} in the item`);
    const key = Object.fromEntries(schema.attributes.map((name) => [name, source?.[name]]));
    const identity = canonical({ table, key });
    if (seen.has(identity)) return validation('Transaction request cannot include multiple operations on one item');
    seen.add(identity);
    items.push({ action, request, table, key, returnsOld: returns === 'ALL_OLD' });
  }
  return { items };
}

/**
 * The item's condition against its old image, without a write: PutItem of the unchanged old image, or DeleteItem
 * of the absent item, carrying the condition. Undefined when it holds (or there is none), else dynalite's error.
 */
async function checkCondition(item: TransactItem, old: Json | undefined, call: Call): Promise<Answer | undefined> {
  const condition = item.request.ConditionExpression;
  if (typeof condition !== 'string') return undefined;
  // An Update's names and values may serve its UpdateExpression too: keep those the condition uses.
  const used = (members: unknown) =>
    members === undefined || item.action !== 'Update'
      ? members
      : Object.fromEntries(Object.entries(members as Json).filter(([token]) => usesToken(condition, token)));
  const names = used(item.request.ExpressionAttributeNames);
  const values = used(item.request.ExpressionAttributeValues);
  const expression = {
    TableName: item.table,
    ConditionExpression: condition,
    ...(isNonEmpty(names) ? { ExpressionAttributeNames: names } : {}),
    ...(isNonEmpty(values) ? { ExpressionAttributeValues: values } : {}),
  };
  const answer = old
    ? await call('PutItem', { ...expression, Item: old })
    : await call('DeleteItem', { ...expression, Key: item.key });
  return answer.status === 200 ? undefined : answer;
}

function usesToken(expression: string, token: string): boolean {
  const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${escaped}(?![A-Za-z0-9_])`).test(expression);
}

/** Back to the old image: put back, or deleted when the item did not exist. */
async function restore(item: TransactItem, old: Json | undefined, call: Call): Promise<void> {
  const answer = old
    ? await call('PutItem', { TableName: item.table, Item: old })
    : await call('DeleteItem', { TableName: item.table, Key: item.key });
  if (answer.status !== 200)
    throw new Error(`dynalite-transactions: could not restore an item: ${JSON.stringify(answer.body)}`);
}

function isConditionFailure(answer: Answer): boolean {
  return String(answer.body.__type).endsWith('#ConditionalCheckFailedException');
}

function cancelled(
  items: readonly TransactItem[],
  checks: readonly (Answer | undefined)[],
  oldImages: readonly (Json | undefined)[],
): Answer {
  const reasons = items.map((item, i) => {
    const failure = checks[i];
    if (!failure) return { Code: 'None' };
    const old = oldImages[i];
    return {
      Code: 'ConditionalCheckFailed',
      Message: String(failure.body.message ?? failure.body.Message ?? 'The conditional request failed'),
      ...(old && item.returnsOld ? { Item: old } : {}),
    };
  });
  return {
    status: 400,
    body: {
      __type: TYPE.cancelled,
      Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
      CancellationReasons: reasons,
    },
  };
}

function consumedCapacity(mode: unknown, units: ReadonlyMap<string, { write: number; read: number }>): Json {
  if (mode !== 'TOTAL' && mode !== 'INDEXES') return {};
  return {
    ConsumedCapacity: [...units].map(([table, { write, read }]) => {
      const figures = {
        CapacityUnits: write + read,
        ...(read > 0 ? { ReadCapacityUnits: read } : {}),
        ...(write > 0 ? { WriteCapacityUnits: write } : {}),
      };
      return { TableName: table, ...figures, ...(mode === 'INDEXES' ? { Table: figures } : {}) };
    }),
  };
}

function validation(message: string): Answer {
  return { status: 400, body: { __type: TYPE.validation, message } };
}

/** The tables' key attributes (DescribeTable through dynalite), until a table is created, changed or deleted. */
class KeySchemas {
  private readonly known = new Map<string, readonly string[]>();

  constructor(private readonly call: Call) {}

  async of(table: string): Promise<{ readonly attributes: readonly string[] } | Answer> {
    const cached = this.known.get(table);
    if (cached) return { attributes: cached };
    const answer = await this.call('DescribeTable', { TableName: table });
    if (answer.status !== 200) return answer;
    const schema = (answer.body.Table as { KeySchema?: readonly { AttributeName: string }[] } | undefined)?.KeySchema;
    const attributes = (schema ?? []).map((element) => element.AttributeName);
    this.known.set(table, attributes);
    return { attributes };
  }

  forget(): void {
    this.known.clear();
  }
}

/** Outcomes by ClientRequestToken with their request's text, each kept for `windowMs` after it completed. */
class TokenWindow {
  private readonly entries = new Map<string, { request: string; answer: Answer; at: number }>();

  constructor(private readonly windowMs: number) {}

  get(token: string, now: number): { readonly request: string; readonly answer: Answer } | undefined {
    // Insertion order is completion order: the expired ones are at the front.
    for (const [key, entry] of this.entries) {
      if (now - entry.at < this.windowMs) break;
      this.entries.delete(key);
    }
    return this.entries.get(token);
  }

  set(token: string, request: string, answer: Answer, now: number): void {
    this.entries.set(token, { request, answer, at: now });
  }
}

/**
 * Transactions exclusive, other writes shared: a transaction waits for every write that arrived before it and holds
 * back every write that arrives after it until it is done, so no write lands between its checks and its writes;
 * other writes run side by side, as dynalite runs them without this emulation. (One lock for every write serialised
 * the webhook's dedup writes behind the workers' under load, past its client's 2 s attempt timeout.) A failed holder
 * releases the lock as a successful one does.
 */
class TransactionLock {
  /** Settles when the latest transaction has finished. */
  private lastExclusive: Promise<void> = Promise.resolve();
  /** Writes started since that transaction, which the next one waits for. */
  private sharedSince: Promise<void>[] = [];

  shared<T>(work: () => Promise<T>): Promise<T> {
    const result = this.lastExclusive.then(work);
    this.sharedSince.push(settled(result));
    // Between transactions the list would only grow: fold it into one promise now and then.
    if (this.sharedSince.length >= 256) this.sharedSince = [settled(Promise.all(this.sharedSince))];
    return result;
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const before = Promise.all([this.lastExclusive, ...this.sharedSince]);
    this.sharedSince = [];
    const result = before.then(work);
    this.lastExclusive = settled(result);
    return result;
  }
}

const settled = (p: Promise<unknown>): Promise<void> =>
  p.then(
    () => undefined,
    () => undefined,
  );

/** dynalite's answer to one request, as it would have written it. */
interface Replayed {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | number>>;
  readonly body: string;
}

/** DynamoDB operations on dynalite in this process, without a socket (`replay`). */
function inProcess(dynalite: DynaliteHandler): Call {
  const headers = {
    'content-type': 'application/x-amz-json-1.0',
    'x-amz-date': '20250101T000000Z',
    // dynalite's signature check looks only for the parameters' presence.
    authorization:
      'AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
  };
  return async (operation, input) => {
    const answer = await replay(
      dynalite,
      { method: 'POST', url: '/', headers: { ...headers, 'x-amz-target': `${TARGET_PREFIX}${operation}` } },
      JSON.stringify(input),
    );
    return { status: answer.status, body: answer.body ? (JSON.parse(answer.body) as Json) : {} };
  };
}

/**
 * Runs dynalite's request handler on a request whose body was already read and captures its answer. Of the request
 * dynalite uses only `method`, `url`, `headers` and its data/end events, and of the response only `statusCode`,
 * `setHeader`, `contentType` and `end`; the stand-ins provide exactly that.
 */
function replay(
  dynalite: DynaliteHandler,
  head: Pick<IncomingMessage, 'method' | 'url' | 'headers'>,
  body: string,
): Promise<Replayed> {
  return new Promise((resolve) => {
    const req = Object.assign(new EventEmitter(), { method: head.method, url: head.url, headers: head.headers });
    const headers: Record<string, string | number> = {};
    const res = {
      statusCode: 200,
      contentType: '',
      setHeader(name: string, value: string | number) {
        headers[name] = value;
      },
      end(text?: string) {
        resolve({ status: res.statusCode, headers, body: text ?? '' });
      },
    };
    dynalite(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    req.emit('data', Buffer.from(body));
    req.emit('end');
  });
}

/** The request's body; rejects when the client goes away before sending all of it. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('the client closed the request before its body ended'));
    });
  });
}

function send(res: ServerResponse, answer: Answer): void {
  const body = JSON.stringify(answer.body);
  res.statusCode = answer.status;
  res.setHeader('Content-Type', 'application/x-amz-json-1.0');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('x-amzn-RequestId', randomUUID());
  res.end(body);
}

/** JSON with object keys sorted: equal for equal requests whatever their members' order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, member: unknown) =>
    isObject(member) && !Array.isArray(member)
      ? Object.fromEntries(Object.entries(member).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : member,
  );
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null;
}

function isNonEmpty(members: unknown): boolean {
  return isObject(members) && Object.keys(members).length > 0;
}

function lowerFirst(name: string): string {
  return `${name.charAt(0).toLowerCase()}${name.slice(1)}`;
}
