import { eventKey } from '#core/key-part';
import { PLATFORM_MANIFESTS } from '#platforms/manifests';
import type { ChatPlatform, HttpResponse, RawRequest } from '#platforms/types';
import type { EventStore } from '#stores/event-store';
import { type ConversationScopeConfig, scopeFor } from './context-scope';
import { conversationKey } from './conversation-key';
import { MalformedEventError, NotFoundError, PayloadTooLargeError } from './errors';
import { fifoId } from './key-part';
import type { QueuedEvent } from './queue-message';
import { evaluateTrigger, type TriggerConfig } from './trigger-rules';

/** What the ingest step needs; narrow interfaces so it tests without AWS. */
export interface IngestDeps {
  /** The adapter of an enabled platform; `undefined` (→ 404) for unknown or disabled platforms. */
  readonly platform: (name: string) => Promise<ChatPlatform | undefined>;
  readonly events: Pick<EventStore, 'reserve' | 'markEnqueued' | 'release'>;
  readonly enqueue: (event: QueuedEvent, ids: { groupId: string; deduplicationId: string }) => Promise<void>;
  readonly triggers: TriggerConfig;
  readonly scopes: ConversationScopeConfig;
  readonly maxBodyBytes: number;
  readonly now: () => number;
}

/** The outcome, for the handler's logs and metrics. */
export type IngestOutcome =
  | { readonly kind: 'handshake' }
  | { readonly kind: 'stream_refresh'; readonly streamId: string }
  | { readonly kind: 'ignored'; readonly reason: string; readonly eventId?: string }
  | { readonly kind: 'enqueued'; readonly eventId: string; readonly conversationKey: string }
  | { readonly kind: 'duplicate'; readonly eventId: string; readonly resent: boolean };

export interface IngestResult {
  readonly response: HttpResponse;
  readonly outcome: IngestOutcome;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' } as const;
const OK: HttpResponse = { statusCode: 200, headers: JSON_HEADERS, body: '{"ok":true}' };

/**
 * Webhook core: verify/parse → handshake → trigger rules → durable dedup → FIFO enqueue → 200.
 *
 * Never marked seen and then lost: the reservation is written before the enqueue and released when the enqueue
 * fails (the platform then retries). A duplicate that finds the reservation still `enqueuing` (the first delivery
 * is in flight or crashed) sends again with the same `MessageDeduplicationId`; SQS FIFO collapses the two, so a
 * crash between reserve and send cannot lose the event and concurrent deliveries cannot enqueue it twice.
 */
export async function ingest(platformName: string, request: RawRequest, deps: IngestDeps): Promise<IngestResult> {
  const startedAt = deps.now();
  const platform = await deps.platform(platformName);
  if (!platform) throw new NotFoundError(`Platform '${platformName}' is not enabled on this endpoint.`);
  if (request.body.byteLength > deps.maxBodyBytes) {
    throw new PayloadTooLargeError(
      `Body of ${request.body.byteLength} bytes exceeds the ${deps.maxBodyBytes}-byte limit.`,
    );
  }
  if (request.method === 'POST' && request.body.byteLength === 0) throw new MalformedEventError('Empty request body.');

  const parsed = platform.parse(request, deps.now());
  if (parsed.kind === 'handshake') return { response: parsed.response, outcome: { kind: 'handshake' } };
  if (parsed.kind === 'ignored') {
    return { response: OK, outcome: { kind: 'ignored', reason: parsed.reason, eventId: parsed.eventId } };
  }
  if (parsed.kind === 'stream_refresh') {
    // The platform polls a stream's text: answered from the snapshot store, never reserved or enqueued.
    if (!platform.answerStreamRefresh) {
      return { response: OK, outcome: { kind: 'ignored', reason: 'stream refresh on a platform without streams' } };
    }
    const response = await platform.answerStreamRefresh(parsed.streamId, deps.now());
    return { response, outcome: { kind: 'stream_refresh', streamId: parsed.streamId } };
  }

  const { message } = parsed;
  const ack = parsed.ack ?? OK;
  const decision = evaluateTrigger(message, deps.triggers);
  if (!decision.triggered) {
    return {
      response: parsed.ignoredAck ?? ack,
      outcome: { kind: 'ignored', reason: decision.reason, eventId: message.eventId },
    };
  }

  const key = conversationKey(message, scopeFor(deps.scopes, message.platform, message.chatId));
  const pk = eventKey(message.platform, message.eventId);
  const receivedAt = deps.now();
  const queued: QueuedEvent = {
    v: 1,
    conversationKey: key,
    text: decision.text,
    message,
    receivedAt,
    ingressMs: receivedAt - startedAt,
  };
  // Both ids are at most 128 FIFO-safe characters (hashed when longer): SQS would refuse the send otherwise.
  const ids = { groupId: fifoId(key), deduplicationId: fifoId(pk) };

  const reservation = await deps.events.reserve(pk, deps.now());
  if (reservation.outcome === 'exists') {
    const resend = reservation.status === 'enqueuing';
    if (resend) {
      await deps.enqueue(queued, ids);
      await deps.events.markEnqueued(pk, deps.now());
    }
    return {
      // Each platform's own rule (Slack: `X-Slack-No-Retry`), from its manifest.
      response: PLATFORM_MANIFESTS[platform.name].duplicateAck(ack),
      outcome: { kind: 'duplicate', eventId: message.eventId, resent: resend },
    };
  }

  try {
    await deps.enqueue(queued, ids);
  } catch (err) {
    await deps.events.release(pk).catch(() => undefined);
    throw err;
  }
  await deps.events.markEnqueued(pk, deps.now());
  return { response: ack, outcome: { kind: 'enqueued', eventId: message.eventId, conversationKey: key } };
}
