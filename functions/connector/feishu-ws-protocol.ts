import * as z from '#shared/zod';
import { type FeishuFrame, type FeishuFrameHeader, frameHeader } from './feishu-ws-frames';
import { type Decoded, parseJsonText } from './frame-decoding';

/**
 * Feishu/Lark long connection's protocol around the frames (`feishu-ws-frames.ts`): endpoint discovery, header keys,
 * ping/pong and the ack. Shared by the connector's client (`feishu-ws.ts`) and the sandbox's emulator. Sources:
 * node-sdk `ws-client/index.ts`, `enum.ts`, `ws-config.ts`; oapi-sdk-go `ws/const.go`, `ws/client_transport.go`
 * (STREAMING-AND-LONG-CONNECTION.md §3.1).
 */

/** `POST {domain}/callback/ws/endpoint` with `{AppID, AppSecret}` (header `locale: zh`) hands out the socket URL. */
export const FEISHU_WS_ENDPOINT_PATH = '/callback/ws/endpoint';

/** `method` (field 4). */
export const FEISHU_FRAME_METHOD = { control: 0, data: 1 } as const;

/** Header keys. `sum`/`seq`: parts of one event split across frames (1 and 0 when it is whole). */
export const FEISHU_HEADER = {
  type: 'type',
  messageId: 'message_id',
  sum: 'sum',
  seq: 'seq',
  traceId: 'trace_id',
  timestamp: 'timestamp',
  /** Added to an ack: ms the client spent on the event. */
  bizRt: 'biz_rt',
} as const;

/** Response headers of a refused WebSocket upgrade (HTTP header names, so case does not matter). */
export const FEISHU_HANDSHAKE_HEADER = {
  status: 'handshake-status',
  message: 'handshake-msg',
  authErrorCode: 'handshake-autherrcode',
} as const;

/** Header `type`: data frames carry `event` or `card`; control frames `ping` (client) and `pong` (server). */
export const FEISHU_MESSAGE_TYPE = { event: 'event', card: 'card', ping: 'ping', pong: 'pong' } as const;

/** Discovery `code`s (also `handshake-status` / `handshake-autherrcode` values on a refused upgrade). */
export const FEISHU_WS_CODE = {
  ok: 0,
  systemBusy: 1,
  forbidden: 403,
  authFailed: 514,
  internalError: 1_000_040_343,
  exceedConnLimit: 1_000_040_350,
} as const;

const CODE_NAMES: Readonly<Record<number, string>> = {
  [FEISHU_WS_CODE.systemBusy]: 'system_busy',
  [FEISHU_WS_CODE.forbidden]: 'forbidden',
  [FEISHU_WS_CODE.authFailed]: 'auth_failed',
  [FEISHU_WS_CODE.internalError]: 'internal_error',
  [FEISHU_WS_CODE.exceedConnLimit]: 'exceed_conn_limit',
};

/** `514 (auth_failed)`; unknown codes as the bare number. */
export function describeFeishuCode(code: number): string {
  const name = CODE_NAMES[code];
  return name ? `${code} (${name})` : String(code);
}

/**
 * What a refused discovery means for the next attempt:
 * - `retryable`: system busy (1) or internal error (1000040343): the platform's transient state, retried on the
 *   normal backoff.
 * - `refused`: auth failed (514), forbidden (403), the app's 50 connections in use (1000040350), or any other code:
 *   nothing that clears in a second (rotated credentials, connections the platform has yet to reap), so the next
 *   attempt waits at least the backoff cap instead of adding to the app's error count.
 */
export function feishuCodeClass(code: number): 'retryable' | 'refused' {
  return code === FEISHU_WS_CODE.systemBusy || code === FEISHU_WS_CODE.internalError ? 'retryable' : 'refused';
}

// ---- discovery ----

export const endpointRequestSchema = z.object({
  AppID: z.string().check(z.minLength(1)),
  AppSecret: z.string().check(z.minLength(1)),
});
export type EndpointRequest = z.infer<typeof endpointRequestSchema>;

const seconds = z.number().check(z.nonnegative());

/** Intervals in seconds; the pong carries the same object, which overrides what discovery said. */
export const clientConfigSchema = z.looseObject({
  PingInterval: z.optional(seconds),
  ReconnectCount: z.optional(z.number()),
  ReconnectInterval: z.optional(seconds),
  ReconnectNonce: z.optional(seconds),
});
export type FeishuClientConfig = z.infer<typeof clientConfigSchema>;

/** `{code, msg, data:{URL, ClientConfig}}`; `data` is empty (or null) when `code` is not 0. */
export const endpointResponseSchema = z.looseObject({
  code: z.number().check(z.int()),
  msg: z.optional(z.string()),
  data: z.optional(
    z.nullable(
      z.looseObject({
        URL: z.optional(z.string()),
        ClientConfig: z.optional(z.nullable(clientConfigSchema)),
      }),
    ),
  ),
});
export type EndpointResponse = z.infer<typeof endpointResponseSchema>;

/** The socket URL's `service_id` query parameter: the `service` every ping carries. */
export const FEISHU_SERVICE_ID_PARAM = 'service_id';
export const FEISHU_DEVICE_ID_PARAM = 'device_id';

/** `PingInterval` when neither discovery nor a pong set one: the SDK's 120 s. */
export const FEISHU_DEFAULT_PING_INTERVAL_MS = 120_000;

/** A ClientConfig's ping interval in ms, or undefined when it names none usable (absent or 0). */
export function pingIntervalMs(config: FeishuClientConfig | null | undefined): number | undefined {
  const s = config?.PingInterval;
  return s !== undefined && s > 0 ? s * 1000 : undefined;
}

// ---- frames ----

const text = new TextEncoder();

/** The client's ping: a control frame, `type: ping`, `service` = the URL's `service_id`. */
export function pingFrame(service: number): FeishuFrame {
  return {
    seqId: 0n,
    logId: 0n,
    service,
    method: FEISHU_FRAME_METHOD.control,
    headers: [{ key: FEISHU_HEADER.type, value: FEISHU_MESSAGE_TYPE.ping }],
  };
}

/** The server's pong: a control frame, `type: pong`, payload = the current ClientConfig as JSON. */
export function pongFrame(service: number, config: FeishuClientConfig): FeishuFrame {
  return {
    seqId: 0n,
    logId: 0n,
    service,
    method: FEISHU_FRAME_METHOD.control,
    headers: [{ key: FEISHU_HEADER.type, value: FEISHU_MESSAGE_TYPE.pong }],
    payload: text.encode(JSON.stringify(config)),
  };
}

/** What an ack's payload says: 200 = handled. */
export const ackPayloadSchema = z.looseObject({ code: z.number().check(z.int()), data: z.optional(z.string()) });

/**
 * The ack of a data frame: the frame itself echoed (ids, service, method, headers) with one more header, `biz_rt`
 * (ms spent on it), and the payload replaced by `{"code":200}`. For an event split in parts, the frame echoed is the
 * part that completed it, as the SDKs do.
 */
export function ackFrame(frame: FeishuFrame, bizRtMs: number): FeishuFrame {
  const headers: FeishuFrameHeader[] = [
    ...frame.headers,
    { key: FEISHU_HEADER.bizRt, value: String(Math.max(0, Math.round(bizRtMs))) },
  ];
  return { ...frame, headers, payload: text.encode(JSON.stringify({ code: 200 })) };
}

/** A frame's payload as JSON (`not JSON` when it is not), for events, pongs and acks alike. */
export function payloadJson(frame: FeishuFrame): Decoded<unknown> {
  if (frame.payload === undefined) return { ok: false, reason: 'no payload' };
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(frame.payload);
  } catch {
    return { ok: false, reason: 'payload is not UTF-8' };
  }
  return parseJsonText(decoded);
}

/** The frame's `type` header, or `''`. */
export function frameType(frame: FeishuFrame): string {
  return frameHeader(frame, FEISHU_HEADER.type) ?? '';
}
