import type { LambdaInvocation } from '#core/cost/cost-model';
import type { QueuedEvent } from '#core/queue-message';
import { API_PLATFORM } from '#platforms/types';
import type { BilledWork, InvocationParty, InvocationTimings, RecordedOutcome } from './invocation-records';

/**
 * The facts each caller has about one invocation, and what they mean for its records: who (party), when (timings)
 * and the billable work (Lambda, SQS, DynamoDB, logs) besides the model's.
 */

/** A platform event the worker took from the queue (the webhook accepted it earlier). */
export interface QueuedInvocation {
  readonly kind: 'queued';
  readonly event: QueuedEvent;
  readonly outcome: RecordedOutcome;
  /** Epoch ms: the worker's claim … the records. */
  readonly startedAt: number;
  readonly finishedAt: number;
  /** SQS `ApproximateReceiveCount`: each receive is billed. */
  readonly receiveCount: number;
  /** The SQS message body's size. */
  readonly payloadBytes: number;
  /** Speech recognised (the member's voice message) or synthesised for the answer. */
  readonly voice?: BilledWork['voice'];
}

/** A `/v1/chat` call, answered synchronously by the chat-api function. */
export interface ApiInvocation {
  readonly kind: 'api';
  /** The token's `tenant` claim. */
  readonly tenantId: string;
  /** `X-Group-ID`. */
  readonly chatId: string;
  /** The member the call answered for (`ApiIdentity.userId`). */
  readonly userId: string;
  /** The JWT `sub` that made the call: `userId` itself, or an integration acting for it. */
  readonly principal: string;
  /** API Gateway's request id: the event id and the invocation id. */
  readonly requestId: string;
  readonly outcome: RecordedOutcome;
  /** Epoch ms: the request reaching the function … the records. */
  readonly startedAt: number;
  readonly finishedAt: number;
}

export type InvocationToRecord = QueuedInvocation | ApiInvocation;

/** The running function and the DynamoDB capacity the invocation consumed, records' own writes included. */
export interface WorkContext {
  /** Memory of the function recording the invocation (the worker or the chat-api). */
  readonly memoryMb: number;
  readonly capacity: { readonly read: number; readonly write: number };
  /** The ledger row's id for a queued event (a REST call uses its request id). */
  readonly newInvocationId: () => string;
}

export interface DescribedInvocation {
  readonly party: InvocationParty;
  readonly timings: InvocationTimings;
  readonly work: BilledWork;
}

// Estimated CloudWatch Logs bytes: a handful of structured lines across webhook and worker, a few for a REST call.
const QUEUED_LOG_BYTES = 2_000;
const API_LOG_BYTES = 1_500;
// The webhook's DynamoDB writes per accepted event (reserve + mark enqueued), measured there but not carried over.
const WEBHOOK_WRITE_UNITS = 2;
const WEBHOOK_MEMORY_MB = 256;
// Billed when the webhook did not measure its time (events queued before it did).
const UNMEASURED_INGRESS_MS = 5;

/** Lambda bills whole milliseconds, at least one. */
function billedMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

function arm64(fn: LambdaInvocation['fn'], memoryMb: number, ms: number): LambdaInvocation {
  return { fn, memoryMb, billedMs: billedMs(ms), arch: 'arm64' };
}

export function describeInvocation(invocation: InvocationToRecord, context: WorkContext): DescribedInvocation {
  const { startedAt, finishedAt } = invocation;
  const workMs = finishedAt - startedAt;
  const { read, write } = context.capacity;
  if (invocation.kind === 'api') {
    return {
      party: {
        platform: API_PLATFORM,
        tenantId: invocation.tenantId,
        chatId: invocation.chatId,
        userId: invocation.userId,
        principal: invocation.principal,
        eventId: invocation.requestId,
        invocationId: invocation.requestId,
      },
      timings: { startedAt, finishedAt },
      work: {
        apiGatewayRequests: 1,
        lambda: [arm64('chat-api', context.memoryMb, workMs)],
        sqsPayloadBytes: 0,
        sqsRequests: { send: 0, receive: 0, delete: 0 },
        dynamodb: { readRequestUnits: read, writeRequestUnits: write },
        logBytes: API_LOG_BYTES,
      },
    };
  }
  const { event } = invocation;
  const m = event.message;
  return {
    party: {
      platform: m.platform,
      tenantId: m.tenantId,
      chatId: m.chatId,
      userId: m.senderId,
      eventId: m.eventId,
      invocationId: context.newInvocationId(),
    },
    timings: { startedAt, finishedAt, queuedAt: event.receivedAt },
    work: {
      apiGatewayRequests: 1,
      lambda: [
        arm64('webhook', WEBHOOK_MEMORY_MB, event.ingressMs ?? UNMEASURED_INGRESS_MS),
        arm64('worker', context.memoryMb, workMs),
      ],
      sqsPayloadBytes: invocation.payloadBytes,
      sqsRequests: { send: 1, receive: invocation.receiveCount, delete: 1 },
      dynamodb: { readRequestUnits: read, writeRequestUnits: write + WEBHOOK_WRITE_UNITS },
      logBytes: QUEUED_LOG_BYTES,
      ...(invocation.voice ? { voice: invocation.voice } : {}),
    },
  };
}
