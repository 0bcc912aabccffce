import type * as z from '#shared/zod';
import type { PlatformManifest, ReplyHandleSchema } from './manifest';
import type { ReplyLimits, ReplyUrlAllowlist } from './shared/index';
import type { AdapterDeps, ChatPlatform, PlatformName } from './types';

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

/**
 * Everything GroupGate knows about one chat platform, declared in the platform's own folder and listed once in
 * `registry.ts`: its manifest (`<platform>/manifest.ts`: name, credentials, webhook route, reply-handle schema, duplicate
 * answer; what the CDK app and core read) spread into the factory below (`<platform>/index.ts`). Nothing outside the folder switches on a name.
 */
export interface PlatformDescriptor<
  P extends PlatformName,
  Handle extends ReplyHandleSchema<P> = ReplyHandleSchema<P>,
  Credentials extends z.ZodMiniObject = z.ZodMiniObject,
> extends PlatformManifest<P, Credentials, Handle> {
  /**
   * Builds the adapter from the credentials `credentials` loaded. Throws `ConfigError` listing every unusable
   * setting. (Method syntax on purpose: the registry calls it through the descriptor union, with the credentials
   * that descriptor's own spec produced.)
   */
  create(context: PlatformBuildContext<z.infer<Credentials>>): ChatPlatform;
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
