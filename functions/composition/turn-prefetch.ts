import type { FaqKeyInput } from '#core/answer-pipeline';
import type { DocumentClient } from '#shared/json-document-client';
import type { ActiveUsers, Member } from '#stores/active-users';
import type { AnswerCache } from '#stores/answer-cache';
import { type ItemRead, readItems } from '#stores/batch-get';
import type { CapacitySink } from '#stores/capacity';
import type { ContextStore } from '#stores/context-store';
import type { ProfileStore } from '#stores/profile-store';
import type { Prefetched } from './pipeline-composition';

/**
 * The reads a queued event needs before its model call, in one BatchGetItem that the worker issues alongside its
 * claim, so the claim and every read share one round trip:
 * - the conversation, strongly consistent (its version guards the turn's save, whatever happens in between);
 * - the member's active-user marker for the day, so the marker is written only by the day's first message;
 * - the FAQ answer the pipeline looks up should the conversation have no history (`faqCacheKey`), read whether or
 *   not it has: half a read unit in the same call, instead of a round trip after the context on every first question;
 * - the member's profile (docs/PROFILES.md), strongly consistent like the context (same table). The FAQ key is the
 *   group default profile's, known before the read; the item read holds every profile variant of the question
 *   (`AnswerCache`), so a member whose own profile shapes the prompt differently is answered from the same read.
 *
 * A claim the event loses makes the reads unused, never wrong. A failed read fails the context (the pipeline then
 * fails as on a failed GetItem); the marker is then unknown and the recorder writes it conditionally as before.
 */
export interface TurnPrefetch extends Prefetched {
  /** The member's marker key for the day the reads were made, and whether it exists. */
  readonly activeMarker: { readonly key: string; readonly present: Promise<boolean> };
}

export interface TurnPrefetchDeps {
  readonly db: DocumentClient;
  readonly contexts: Pick<ContextStore, 'itemRead' | 'contextOf'>;
  readonly cache: Pick<AnswerCache, 'itemRead' | 'entryOf'>;
  readonly activeUsers: Pick<ActiveUsers, 'itemRead'>;
  readonly profiles: Pick<ProfileStore, 'itemRead' | 'profileOf'>;
  readonly faqCacheKey: (input: FaqKeyInput) => Promise<string | undefined>;
}

export interface TurnToPrefetch {
  readonly conversationKey: string;
  readonly member: Member;
  /** What decides the FAQ cache key, as the pipeline will receive it. */
  readonly question: FaqKeyInput;
  readonly now: number;
}

export function prefetchTurn(deps: TurnPrefetchDeps, turn: TurnToPrefetch, meter: CapacitySink): TurnPrefetch {
  const { conversationKey, member, now } = turn;
  const marker = deps.activeUsers.itemRead(member, now);
  const read = (async () => {
    // Without a key the pipeline simply looks the entry up itself, after the context.
    const cacheKey = await deps.faqCacheKey(turn.question).catch(() => undefined);
    const reads: ItemRead[] = [
      deps.contexts.itemRead(conversationKey),
      marker,
      deps.profiles.itemRead(member),
      ...(cacheKey === undefined ? [] : [deps.cache.itemRead(cacheKey)]),
    ];
    const [context, active, profile, cached] = await readItems(deps.db, reads, meter);
    return { context, active, profile, cached, cacheKey };
  })();
  const prefetch: TurnPrefetch = {
    key: conversationKey,
    context: read.then(({ context }) => deps.contexts.contextOf(context, now)),
    profile: read.then(({ profile }) => deps.profiles.profileOf(profile, now)),
    cache: read.then(({ cached, cacheKey }) =>
      cacheKey === undefined ? undefined : deps.cache.entryOf(cacheKey, cached, now),
    ),
    activeMarker: { key: marker.pk, present: read.then(({ active }) => active !== undefined) },
  };
  // Each is awaited only on the path that needs it (a lost claim needs none): failures are handled there.
  for (const pending of [prefetch.context, prefetch.cache, prefetch.profile, prefetch.activeMarker.present]) {
    pending?.catch(() => undefined);
  }
  return prefetch;
}
