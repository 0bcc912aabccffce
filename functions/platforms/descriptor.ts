import type * as z from 'zod';
import type { PlatformManifest } from './manifest';
import type { ReplyLimits, ReplyUrlAllowlist } from './shared/index';
import type { AdapterDeps, ChatPlatform, HttpResponse, PlatformName } from './types';

type Env = Readonly<Record<string, string | undefined>>;

/** What the registry hands a platform's factory: its loaded credentials and the deployment's settings. */
export interface PlatformBuildContext<Credentials> {
  readonly credentials: Credentials;
  readonly env: Env;
  /** Bounds on one outbound answer; unset fields take `DEFAULT_REPLY_LIMITS`. */
  readonly replyLimits: Partial<ReplyLimits>;
  /** Extra origins reply handles may use (the sandbox's emulator); see `replyUrlAllowlist`. */
  readonly replyHandleOrigins: readonly string[];
  readonly deps: AdapterDeps;
}

/** The serialisable reply handle of one platform: a zod object discriminated by its `platform` literal. */
export type ReplyHandleSchema<P extends PlatformName> = z.ZodObject<{ platform: z.ZodLiteral<P> } & z.ZodRawShape>;

/**
 * Everything GroupGate knows about one chat platform, declared in the platform's own folder and listed once in
 * `registry.ts`: its manifest (`<platform>/manifest.ts`: name, credentials, webhook route; what the CDK app reads)
 * spread into the runtime parts below (`<platform>/index.ts`). Nothing outside the folder switches on a name.
 */
export interface PlatformDescriptor<
  P extends PlatformName,
  Handle extends ReplyHandleSchema<P> = ReplyHandleSchema<P>,
  Credentials extends z.ZodObject = z.ZodObject,
> extends PlatformManifest<P, Credentials> {
  /** Validates the handle when a queued event is read back (the worker's poison-message check). */
  readonly replyHandleSchema: Handle;
  /**
   * The HTTP answer to a delivery the webhook has already seen, given the normal acknowledgement. Most platforms
   * get the plain `ack` (`plainDuplicateAck`); a platform that can be told to stop retrying is told here.
   */
  readonly duplicateAck: (ack: HttpResponse) => HttpResponse;
  /**
   * Builds the adapter from the credentials `credentials` loaded. Throws `ConfigError` listing every unusable
   * setting. (Method syntax on purpose: the registry calls it through the descriptor union, with the credentials
   * that descriptor's own spec produced.)
   */
  create(context: PlatformBuildContext<z.infer<Credentials>>): ChatPlatform;
}

/** The duplicate-ack rule of platforms that have no "stop retrying" signal: the normal acknowledgement. */
export function plainDuplicateAck(ack: HttpResponse): HttpResponse {
  return ack;
}

/** `{ apiBaseUrl }` from an optional override (`<PLATFORM>_API_BASE_URL`; the sandbox's emulator), else `{}`. */
export function apiBaseUrlFrom(value: string | undefined): { apiBaseUrl?: string } {
  return value ? { apiBaseUrl: value } : {};
}

/**
 * The origins reply URLs carried in events (DingTalk `sessionWebhook`, WeCom `response_url`) may point at: the
 * platform's own plus configured extras. Plain-http origins are accepted only from the configured extras.
 */
export function replyUrlAllowlist(
  platformOrigins: readonly string[],
  replyHandleOrigins: readonly string[],
): ReplyUrlAllowlist {
  return {
    origins: [...platformOrigins, ...replyHandleOrigins.filter((o) => o.startsWith('https://'))],
    insecureOrigins: replyHandleOrigins.filter((o) => o.startsWith('http://')),
  };
}
