import { eventKey } from '#core/key-part';
import { PLATFORM_MANIFESTS } from '#platforms/manifests';
import type { ChatPlatform, HttpResponse, ParseResult, RawRequest } from '#platforms/types';
import type { Reservation } from '#stores/event-reservations';
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
  /** The durable dedup record (`EventReservations`). */
  readonly events: {
    reserve(pk: string, now: number): Promise<Reservation>;
    release(pk: string): Promise<void>;
  };
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
  | { readonly kind: 'duplicate'; readonly eventId: string };

export interface IngestResult {
  readonly response: HttpResponse;
  readonly outcome: IngestOutcome;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' } as const;
const OK: HttpResponse = { statusCode: 200, headers: JSON_HEADERS, body: '{"ok":true}' };

/**
 * Webhook core: verify/parse → handshake → trigger rules → durable dedup record and FIFO enqueue, side by side → 200.
 * Everything after the parse is `admitEvent`, which the long-connection connector calls directly.
 * One round trip's wait on a fresh event: the reservation (conditional PutItem) and the send run at once.
 *
 * Why side by side is safe: exactly one reply comes from the worker's claim (a conditional update fenced by
 * `attempts`), and one message per event from FIFO deduplication (`MessageDeduplicationId` = event key, 5 minutes);
 * neither depends on the reservation being written before the send. The reservation buys the platform its duplicate
 * answer and the `Duplicates` metric without a worker run, and deduplication past FIFO's window.
 * - Answered 200 only when both are written. A failed send releases a reservation this call made (the platform's
 *   retry is then new) and answers 5xx; a failed reservation answers 5xx too, and the retry's send is collapsed by
 *   FIFO deduplication. A release that fails leaves the reservation `enqueuing`, harmless: every delivery sends.
 * - A duplicate (the reservation exists) was sent again as well: collapsed by FIFO within 5 minutes; after that the
 *   worker's claim lets only one of the two messages answer, and the other is acknowledged. This costs a send on a
 *   path that only occurs when the platform did not get our 200 in time; the fresh path, every event, saves a
 *   round trip. A worker that claims the message before the reservation lands makes the first delivery look like a
 *   duplicate: it still gets the normal acknowledgement (duplicate answers are the ack, Slack adds no-retry).
 * - No `enqueued` mark after the send (webhooks before issue 22 wrote one): it only told a duplicate not to send.
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

  return admitEvent(parsed, deps, startedAt);
}

/** What `admitEvent` needs: the ingest dependencies past verification (no adapter lookup, no body limit). */
export type AdmitDeps = Pick<IngestDeps, 'events' | 'enqueue' | 'triggers' | 'scopes' | 'now'>;

/** An event its adapter has verified (or that arrived on an authenticated connection) and parsed into a message. */
export type ParsedMessage = Extract<ParseResult, { readonly kind: 'message' }>;

/**
 * The part of ingest after verification: trigger rules → durable dedup record and FIFO enqueue, side by side (see
 * `ingest` for why side by side is safe). Shared by the webhook (`ingest`) and the long-connection connector
 * (`functions/connector/`), whose events carry no HTTP signature: their socket was authenticated by the platform's
 * connection ticket, so they start here. `response` is the HTTP answer a webhook gives; the connector only reads
 * `outcome` and acknowledges on its socket once this resolves (the event is then durably enqueued).
 * @param startedAt epoch ms the delivery arrived, for `ingressMs`. @default deps.now()
 * @throws what the reservation or the send throws; a reservation this call made is released when the send fails.
 */
export async function admitEvent(
  parsed: ParsedMessage,
  deps: AdmitDeps,
  startedAt: number = deps.now(),
): Promise<IngestResult> {
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

  const [reservation, sent] = await Promise.allSettled([
    deps.events.reserve(pk, deps.now()),
    deps.enqueue(queued, ids),
  ]);
  if (sent.status === 'rejected') {
    if (reservation.status === 'fulfilled' && reservation.value === 'reserved') {
      await deps.events.release(pk).catch(() => undefined);
    }
    throw sent.reason;
  }
  if (reservation.status === 'rejected') throw reservation.reason;
  if (reservation.value === 'exists') {
    return {
      // Each platform's own rule (Slack: `X-Slack-No-Retry`), from its manifest.
      response: PLATFORM_MANIFESTS[message.platform].duplicateAck(ack),
      outcome: { kind: 'duplicate', eventId: message.eventId },
    };
  }
  return { response: ack, outcome: { kind: 'enqueued', eventId: message.eventId, conversationKey: key } };
}
