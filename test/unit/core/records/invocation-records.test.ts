import type { ModelAnswer } from '#core/answer-pipeline';
import { costOfInvocation, parseUsage } from '#core/cost/cost-model';
import { buildLedgerRow } from '#core/cost/ledger-row';
import { resolvePrices } from '#core/cost/prices';
import { ModelError, ValidationError } from '#core/errors';
import { hashedId } from '#core/key-part';
import {
  type AuditRecord,
  buildInvocationRecords,
  type InvocationRecords,
  type RecordedOutcome,
} from '#core/records/invocation-records';
import { describeInvocation, type InvocationToRecord } from '#core/records/invocation-work';
import { queuedEvent } from '../../../helpers/factories';

const prices = resolvePrices('us-east-1');
const STARTED = Date.parse('2026-11-25T10:00:00.000Z');
const FINISHED = STARTED + 1_850;
const QUEUED = STARTED - 400;
const RETENTION = { ledger: 400, audit: 365 };
const MODEL = { modelId: 'configured-model', instanceType: 'ml.g4dn.xlarge' };

const answer: ModelAnswer = {
  content: 'call 13800138000',
  finishReason: 'stop',
  promptTokens: 420,
  completionTokens: 96,
  latencyMs: 1_200,
  modelId: 'private-llm-int8',
  billing: { kind: 'sagemaker', instanceType: 'ml.g4dn.xlarge' },
};

function outcome(overrides: Partial<RecordedOutcome> = {}): RecordedOutcome {
  return {
    reply: 'call 13800138000',
    source: 'model',
    storedQuestion: 'what is the number?',
    inputFilter: 'allow',
    outputFilter: 'allow',
    piiFound: 0,
    outputPiiFound: 1,
    model: answer,
    ...overrides,
  };
}

/** The factory's Feishu member (tenant t1, chat oc_group, ou_alice) asking in a chat-scoped conversation. */
function feishuEvent(eventId = 'evt-1') {
  return queuedEvent('feishu', {
    conversationKey: 'feishu#t1#oc_group',
    text: 'what is the number?',
    receivedAt: QUEUED,
    ingressMs: 12.3,
    message: { eventId, text: '@bot what is the number?' },
  });
}

function queued(out: RecordedOutcome = outcome(), eventId?: string): InvocationToRecord {
  const event = feishuEvent(eventId);
  return {
    kind: 'queued',
    event,
    outcome: out,
    startedAt: STARTED,
    finishedAt: FINISHED,
    receiveCount: 1,
    payloadBytes: 900,
  };
}

function api(out: RecordedOutcome = outcome()): InvocationToRecord {
  return {
    kind: 'api',
    tenantId: 'svc',
    chatId: 'eng',
    userId: 'u1',
    principal: 'helpdesk-portal',
    requestId: 'req-1',
    outcome: out,
    startedAt: STARTED,
    finishedAt: FINISHED,
  };
}

/** What the recorder does with the invocation, minus the write. */
function records(invocation: InvocationToRecord, retention = RETENTION): InvocationRecords {
  const described = describeInvocation(invocation, {
    memoryMb: 1024,
    capacity: { read: 1.5, write: 4 },
    newInvocationId: () => 'inv-1',
  });
  return buildInvocationRecords({
    ...described,
    outcome: invocation.outcome,
    model: MODEL,
    prices,
    retention,
    maskPii: (text) => text.replace(/1\d{10}/g, '[PHONE]'),
  });
}

describe('buildInvocationRecords', () => {
  it('gives the worker and /v1/chat one audit shape (queueWaitMs only where there was a queue, principal only for /v1/chat)', () => {
    const fromWorker = records(queued()).audit;
    const fromApi = records(api()).audit;
    const { queueWaitMs, ...workerRest } = fromWorker;
    const { principal, ...apiRest } = fromApi;
    expect(queueWaitMs).toBe(400);
    expect(principal).toBe('helpdesk-portal');
    expect(Object.keys(apiRest).sort()).toEqual(Object.keys(workerRest).sort());
    expect(fromApi).not.toHaveProperty('queueWaitMs');
    expect(fromWorker).not.toHaveProperty('principal');
    expect(records(queued()).ledger).not.toHaveProperty('principal');
  });

  it('keys a platform event by its group and time, with the masked answer and every filter fact', () => {
    const audit = records(queued()).audit;
    expect(audit).toEqual<AuditRecord>({
      pk: 'GROUP#feishu#t1#oc_group',
      sk: '2026-11-25T10:00:01.850Z#evt-1',
      expiresAt: Math.floor(FINISHED / 1000) + 365 * 86_400,
      at: '2026-11-25T10:00:01.850Z',
      platform: 'feishu',
      tenantId: 't1',
      chatId: 'oc_group',
      userId: 'ou_alice',
      eventId: 'evt-1',
      question: 'what is the number?',
      answer: 'call [PHONE]',
      source: 'model',
      inputFilter: 'allow',
      outputFilter: 'allow',
      piiFound: 0,
      outputPiiFound: 1,
      model: 'private-llm-int8',
      modelLatencyMs: 1_200,
      latencyMs: 1_850,
      queueWaitMs: 400,
      totalUsd: records(queued()).ledger.totalUsd,
    });
  });

  it('keys a /v1/chat call as platform api of the token’s tenant, naming the member and the principal that asked', () => {
    const { ledger, audit } = records(api());
    expect(audit).toMatchObject({
      pk: 'GROUP#api#svc#eng',
      sk: '2026-11-25T10:00:01.850Z#req-1',
      platform: 'api',
      tenantId: 'svc',
      chatId: 'eng',
      userId: 'u1',
      principal: 'helpdesk-portal',
      eventId: 'req-1',
    });
    expect(audit.pk).toBe(ledger.pk);
    expect(ledger).toMatchObject({
      invocationId: 'req-1',
      eventId: 'req-1',
      platform: 'api',
      userId: 'u1',
      principal: 'helpdesk-portal',
    });
  });

  it('bounds the sort key: a long event id is hashed as in every other key', () => {
    const longId = 'e'.repeat(2_000);
    expect(records(queued(outcome(), longId)).audit.sk).toBe(`2026-11-25T10:00:01.850Z#${hashedId(longId)}`);
  });

  it('sets expiresAt from each retention', () => {
    const { ledger, audit } = records(api(), { ledger: 30, audit: 7 });
    expect(audit.expiresAt).toBe(Math.floor(FINISHED / 1000) + 7 * 86_400);
    expect(ledger.expiresAt).toBe(Math.floor(FINISHED / 1000) + 30 * 86_400);
  });

  it('carries the model failure’s code, and no model, when the model failed', () => {
    const failed = outcome({
      source: 'fallback',
      model: undefined,
      outputPiiFound: undefined,
      modelError: new ModelError('upstream 503', 'server_error'),
    });
    for (const invocation of [queued(failed), api(failed)]) {
      const { ledger, audit } = records(invocation);
      expect(audit).toMatchObject({ modelError: 'model_server_error', model: null, modelLatencyMs: null });
      expect(audit.outputPiiFound).toBe(0);
      expect(ledger.model).toBe('configured-model');
      expect(ledger.usage.sagemaker).toBeNull();
    }
    expect(records(queued()).audit).not.toHaveProperty('modelError');
  });

  it('keeps the ledger row as buildLedgerRow makes it, plus the answer source and output filter', () => {
    const { ledger } = records(queued(outcome({ outputFilter: 'mask' })));
    const usage = parseUsage({
      apiGatewayRequests: 1,
      lambda: [
        { fn: 'webhook', memoryMb: 256, billedMs: 13, arch: 'arm64' },
        { fn: 'worker', memoryMb: 1024, billedMs: 1_850, arch: 'arm64' },
      ],
      sqsPayloadBytes: 900,
      sqsRequests: { send: 1, receive: 1, delete: 1 },
      dynamodb: { readRequestUnits: 1.5, writeRequestUnits: 6 },
      logBytes: 2_000,
      sagemaker: { instanceType: 'ml.g4dn.xlarge', busyMs: 1_200 },
      tokens: { prompt: 420, completion: 96 },
    });
    const expected = buildLedgerRow({
      invocationId: 'inv-1',
      eventId: 'evt-1',
      platform: 'feishu',
      tenantId: 't1',
      chatId: 'oc_group',
      userId: 'ou_alice',
      at: new Date(FINISHED),
      model: 'private-llm-int8',
      latencyMs: 1_850,
      cached: false,
      usage,
      breakdown: costOfInvocation(usage, prices),
      retentionDays: 400,
    });
    expect(ledger).toEqual({ ...expected, source: 'model', filterDecision: 'mask' });
  });

  it('bills /v1/chat as one chat-api invocation with no queue', () => {
    const { usage } = records(api()).ledger;
    expect(usage.lambda).toEqual([{ fn: 'chat-api', memoryMb: 1024, billedMs: 1_850, arch: 'arm64' }]);
    expect(usage.sqsRequests).toEqual({ send: 0, receive: 0, delete: 0 });
    expect(usage.dynamodb).toEqual({ readRequestUnits: 1.5, writeRequestUnits: 4 });
    expect(usage.logBytes).toBe(1_500);
  });

  it('prices a cached answer without SageMaker time and rejects an invalid measurement', () => {
    expect(records(api(outcome({ source: 'cache', model: undefined }))).ledger).toMatchObject({ cached: true });
    const broken = { ...api(), startedAt: FINISHED + 1 };
    expect(() => records(broken)).toThrow(ValidationError);
  });
});
