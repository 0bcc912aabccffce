import type { $ZodShape, $ZodType } from 'zod/v4/core';
import * as z from '#shared/zod';
import type { CredentialSpec } from './credentials';
import type { HttpResponse, PlatformName } from './types';

/** An HTTP method a webhook route may accept. */
export type WebhookMethod = 'GET' | 'POST';

/** How a platform calls its webhook route, as API Gateway needs to know it. */
export interface WebhookRouteSpec {
  /** Methods the route accepts: POST for events, plus GET only for a URL check made with a GET (WeCom's `echostr`). */
  readonly methods: readonly WebhookMethod[];
  /**
   * Headers the platform sends on EVERY request, handshakes included, so API Gateway may refuse a request without
   * them before a Lambda runs. Leave out any header some genuine request lacks (Feishu's unsigned URL check).
   */
  readonly requiredHeaders?: readonly string[];
  /** Query string parameters the platform sends on every request; same rule as `requiredHeaders`. */
  readonly requiredQueryParameters?: readonly string[];
}

/**
 * What GroupGate knows of one chat platform without its adapter code: credentials, webhook route, reply-handle schema
 * and duplicate answer. Declared in the platform's own folder (`<platform>/manifest.ts`) and importable without the
 * adapter's parse/send code, so the CDK app (`lib/`) derives its per-platform secrets, secret-id variables, routes
 * and config keys from it, and core (ingest, the queue message) reads it without loading any adapter. The platform's
 * runtime descriptor (`descriptor.ts`) extends its manifest, so both read one declaration.
 */
export interface PlatformManifest<
  P extends PlatformName = PlatformName,
  Credentials extends z.ZodMiniObject = z.ZodMiniObject,
  Handle extends ReplyHandleSchema<P> = ReplyHandleSchema<P>,
> {
  readonly name: P;
  readonly credentials: CredentialSpec<Credentials>;
  readonly webhook: WebhookRouteSpec;
  /** Validates the handle when a queued event is read back (the worker's poison-message check). */
  readonly replyHandleSchema: Handle;
  /**
   * The HTTP answer to a delivery the webhook has already seen, given the normal acknowledgement. Most platforms
   * get the plain `ack` (`plainDuplicateAck`); a platform that can be told to stop retrying is told here.
   */
  readonly duplicateAck: (ack: HttpResponse) => HttpResponse;
}

/** The serialisable reply handle of one platform: a zod object discriminated by its `platform` literal. */
export type ReplyHandleSchema<P extends PlatformName> = z.ZodMiniObject<{ platform: z.ZodMiniLiteral<P> } & $ZodShape>;

/** The duplicate-ack rule of platforms that have no "stop retrying" signal: the normal acknowledgement. */
export function plainDuplicateAck(ack: HttpResponse): HttpResponse {
  return ack;
}

/**
 * The credential keys a usable secret must hold (those whose schema refuses `undefined`), in schema order. The CDK
 * app creates each platform's secret with exactly these keys as placeholders; optional keys are left for the
 * operator to add.
 */
export function requiredCredentialKeys(spec: CredentialSpec): string[] {
  return Object.entries(spec.schema.shape)
    .filter(([, field]: [string, $ZodType]) => !z.safeParse(field, undefined).success)
    .map(([key]) => key);
}
