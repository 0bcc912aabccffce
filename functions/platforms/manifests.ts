import * as z from '#shared/zod';
import { dingtalkManifest } from './dingtalk/manifest';
import { feishuManifest } from './feishu/manifest';
import type { PlatformManifest } from './manifest';
import { slackManifest } from './slack/manifest';
import { PLATFORMS, type PlatformName, type ReplyHandle } from './types';
import { wecomManifest } from './wecom/manifest';

/**
 * Every platform's deployment facts, one line each; a missing or misnamed line is a compile error. This module and
 * what it imports hold no adapter code (no parse, send or crypto), so the CDK app imports it freely. The runtime
 * registry's descriptors extend these same manifests.
 */
export const PLATFORM_MANIFESTS = {
  feishu: feishuManifest,
  slack: slackManifest,
  dingtalk: dingtalkManifest,
  wecom: wecomManifest,
} as const satisfies { readonly [P in PlatformName]: PlatformManifest<P> };

/** `{ [platform]: pick(its manifest) }` for every platform, in `PLATFORMS` order: a table derived from the manifests. */
export function fromManifests<T>(pick: (manifest: PlatformManifest) => T): Record<PlatformName, T> {
  // Object.fromEntries loses the key type; the keys are exactly PLATFORMS.
  return Object.fromEntries(PLATFORMS.map((p) => [p, pick(PLATFORM_MANIFESTS[p])])) as Record<PlatformName, T>;
}

type HandleSchema = (typeof PLATFORM_MANIFESTS)[PlatformName]['replyHandleSchema'];

/** The queued reply handle: the union of the platforms' schemas, discriminated by `platform`. */
export const replyHandleSchema: z.ZodMiniType<ReplyHandle> = z.discriminatedUnion(
  'platform',
  PLATFORMS.map((p): HandleSchema => PLATFORM_MANIFESTS[p].replyHandleSchema) as [HandleSchema, ...HandleSchema[]],
);
