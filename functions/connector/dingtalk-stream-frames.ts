import * as z from '#shared/zod';
import { type Decoded, decodeJsonWith } from './frame-decoding';

export type { Decoded } from './frame-decoding';

/**
 * DingTalk Stream mode's wire format, shared by the connector's client (`dingtalk-stream.ts`) and the sandbox's
 * emulator (`sandbox/platform-emulator/dingtalk-stream.ts`), so each is tested against the other's bytes.
 * Source: open-dingtalk developerpedia `docs/learn/stream/protocol.md` and dingtalk-stream-sdk-nodejs `src/client.ts`
 * (STREAMING-AND-LONG-CONNECTION.md §3.1).
 */

/** The robot-message callback topic: its `data` is the body an HTTP robot callback would post. */
export const DINGTALK_ROBOT_TOPIC = '/v1.0/im/bot/messages/get';
/** SYSTEM topics: `ping` is echoed; `disconnect` announces a close about 10 s later (load balancing). */
export const DINGTALK_SYSTEM_TOPICS = { ping: 'ping', disconnect: 'disconnect' } as const;
export const DINGTALK_FRAME_TYPES = ['SYSTEM', 'EVENT', 'CALLBACK'] as const;
export const DINGTALK_SPEC_VERSION = '1.0';

// ---- endpoint discovery: POST {apiBase}/v1.0/gateway/connections/open ----

export const DINGTALK_OPEN_PATH = '/v1.0/gateway/connections/open';

const subscriptionSchema = z.object({ type: z.enum(DINGTALK_FRAME_TYPES), topic: z.string().check(z.minLength(1)) });

export const connectionsOpenRequestSchema = z.object({
  clientId: z.string().check(z.minLength(1)),
  clientSecret: z.string().check(z.minLength(1)),
  subscriptions: z.array(subscriptionSchema).check(z.minLength(1)),
  ua: z.optional(z.string()),
  localIp: z.optional(z.string()),
});
export type ConnectionsOpenRequest = z.infer<typeof connectionsOpenRequestSchema>;

/** `endpoint` is a `wss://` URL (the emulator's is `ws://`); the socket opens at `endpoint?ticket=…`. */
export const connectionsOpenResponseSchema = z.looseObject({
  endpoint: z.string().check(z.regex(/^wss?:\/\//)),
  ticket: z.string().check(z.minLength(1)),
});
export type ConnectionsOpenResponse = z.infer<typeof connectionsOpenResponseSchema>;

// ---- frames ----

const downstreamSchema = z.looseObject({
  specVersion: z.string(),
  type: z.enum(DINGTALK_FRAME_TYPES),
  headers: z.looseObject({
    topic: z.string().check(z.minLength(1)),
    messageId: z.string().check(z.minLength(1)),
    contentType: z.optional(z.string()),
    time: z.optional(z.string()),
  }),
  /** A JSON document as a string: the robot message, `{"opaque":…}` for a ping, `{"reason":…}` for a disconnect. */
  data: z.string(),
});
/** What the server pushes. */
export type DownstreamFrame = z.infer<typeof downstreamSchema>;

const ackSchema = z.looseObject({
  code: z.number().check(z.int()),
  headers: z.looseObject({ messageId: z.string().check(z.minLength(1)), contentType: z.optional(z.string()) }),
  message: z.string(),
  data: z.string(),
});
/** What the client answers a frame with (`code` 200 = handled). */
export type AckFrame = z.infer<typeof ackSchema>;

export function decodeDownstreamFrame(text: string): Decoded<DownstreamFrame> {
  return decodeJsonWith(downstreamSchema, text);
}

export function decodeAckFrame(text: string): Decoded<AckFrame> {
  return decodeJsonWith(ackSchema, text);
}

export function encodeFrame(frame: DownstreamFrame | AckFrame): string {
  return JSON.stringify(frame);
}

/** The acknowledgement of a CALLBACK: `data` is `{"response":…}` (a robot callback's response is unused: null). */
export function callbackAck(messageId: string): AckFrame {
  return {
    code: 200,
    headers: { messageId, contentType: 'application/json' },
    message: 'OK',
    data: JSON.stringify({ response: null }),
  };
}

/** The acknowledgement of an EVENT: `SUCCESS`, or `LATER` to have it pushed again. */
export function eventAck(messageId: string, status: 'SUCCESS' | 'LATER'): AckFrame {
  return {
    code: 200,
    headers: { messageId, contentType: 'application/json' },
    message: 'OK',
    data: JSON.stringify({ status }),
  };
}

/** The answer to a SYSTEM ping: the ping's headers and its `data` (`{"opaque":…}`) echoed unchanged. */
export function pingAck(ping: DownstreamFrame): AckFrame {
  return { code: 200, headers: { ...ping.headers }, message: 'OK', data: ping.data };
}

/** The `data` of a SYSTEM frame as an object (`opaque`, `reason`), or `{}` when it is not one. */
export function systemData(frame: DownstreamFrame): Readonly<Record<string, unknown>> {
  try {
    const value: unknown = JSON.parse(frame.data);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}
