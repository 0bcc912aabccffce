import * as z from '#shared/zod';
import { checkWith, type Decoded, decodeJsonWith, parseJsonText } from './frame-decoding';

export type { Decoded } from './frame-decoding';

/**
 * Slack Socket Mode's JSON frames, decoded once for both sides: the connector's client (`slack-socket-mode.ts`) and
 * the sandbox's emulator (`sandbox/platform-emulator/slack-socket.ts`), so each is tested against the other's bytes.
 * Shapes: docs.slack.dev/apis/events-api/using-socket-mode (hello, envelopes with `envelope_id`, `disconnect`).
 */

/** `disconnect.reason` values Slack documents; `warning` comes about 10 s before a scheduled restart. */
export const SLACK_DISCONNECT_REASONS = [
  'warning',
  'refresh_requested',
  'link_disabled',
  'too_many_websockets',
] as const;

/** Envelope types Slack pushes; only `events_api` carries chat messages. */
export const SLACK_ENVELOPE_TYPES = ['events_api', 'interactive', 'slash_commands'] as const;
export type SlackEnvelopeType = (typeof SLACK_ENVELOPE_TYPES)[number];

const helloSchema = z.looseObject({
  type: z.literal('hello'),
  num_connections: z.optional(z.number()),
});
const disconnectSchema = z.looseObject({
  type: z.literal('disconnect'),
  reason: z.string(),
});
const envelopeSchema = z.looseObject({
  type: z.enum(SLACK_ENVELOPE_TYPES),
  envelope_id: z.string().check(z.minLength(1)),
  payload: z.record(z.string(), z.unknown()),
  accepts_response_payload: z.optional(z.boolean()),
  retry_attempt: z.optional(z.number().check(z.int(), z.nonnegative())),
  retry_reason: z.optional(z.string()),
});
const ackSchema = z.object({
  envelope_id: z.string().check(z.minLength(1)),
  payload: z.optional(z.record(z.string(), z.unknown())),
});

export type SlackHelloFrame = z.infer<typeof helloSchema>;
export type SlackDisconnectFrame = z.infer<typeof disconnectSchema>;
export type SlackEnvelopeFrame = z.infer<typeof envelopeSchema>;
/** What the app sends back for an envelope: its id, and a response payload where the envelope accepts one. */
export type SlackAckFrame = z.infer<typeof ackSchema>;

export type SlackServerFrame =
  | { readonly kind: 'hello'; readonly frame: SlackHelloFrame }
  | { readonly kind: 'disconnect'; readonly frame: SlackDisconnectFrame }
  | { readonly kind: 'envelope'; readonly frame: SlackEnvelopeFrame };

/** Decodes one text frame from Slack. Anything else (not JSON, an unknown `type`, missing fields) is a reason. */
export function decodeSlackServerFrame(text: string): Decoded<SlackServerFrame> {
  const json = parseJsonText(text);
  if (!json.ok) return json;
  const type =
    typeof json.value === 'object' && json.value !== null ? (json.value as { type?: unknown }).type : undefined;
  if (type === 'hello') return tagged(checkWith(helloSchema, json.value), (frame) => ({ kind: 'hello', frame }));
  if (type === 'disconnect') {
    return tagged(checkWith(disconnectSchema, json.value), (frame) => ({ kind: 'disconnect', frame }));
  }
  if (typeof type === 'string' && (SLACK_ENVELOPE_TYPES as readonly string[]).includes(type)) {
    return tagged(checkWith(envelopeSchema, json.value), (frame) => ({ kind: 'envelope', frame }));
  }
  return { ok: false, reason: `unknown frame type ${typeof type === 'string' ? JSON.stringify(type) : typeof type}` };
}

/** Decodes an acknowledgement the app sent (the emulator's side). */
export function decodeSlackAck(text: string): Decoded<SlackAckFrame> {
  return decodeJsonWith(ackSchema, text);
}

export function encodeSlackFrame(
  frame: SlackHelloFrame | SlackDisconnectFrame | SlackEnvelopeFrame | SlackAckFrame,
): string {
  return JSON.stringify(frame);
}

function tagged<T, U>(decoded: Decoded<T>, map: (value: T) => U): Decoded<U> {
  return decoded.ok ? { ok: true, value: map(decoded.value) } : decoded;
}
