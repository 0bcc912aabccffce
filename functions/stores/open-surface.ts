import { replyHandleSchema } from '#platforms/manifests';
import type { OpenedSurface, ReplyTarget } from '#platforms/types';
import * as z from '#shared/zod';
import { openedSurfaceOf } from './event-record';

/**
 * A streamed reply no delivery finished, as the stream sweeper reads it from the events table's `openSurfaces` index
 * (`EventStore.listOpenSurfaces`). `attempts` is the fencing token at the time of the read (informational: the
 * sweeper's own token is the one `claimForSweep` returns).
 */
export type OpenSurfaceEntry =
  | {
      readonly kind: 'open';
      readonly pk: string;
      readonly surface: OpenedSurface;
      readonly target: ReplyTarget;
      readonly attempts: number;
    }
  /**
   * The item carries no usable surface or reply target (written by an incompatible version, or corrupted): nothing
   * can reach its surface. The sweeper settles it without a platform call so it leaves the index.
   */
  | { readonly kind: 'unreadable'; readonly pk: string; readonly attempts: number; readonly reason: string };

/** `replyTarget` as `markReplyOpened` writes it (JSON of a `ReplyTarget`), validated like a queue message's handle. */
const replyTargetSchema = z.object({
  handle: replyHandleSchema,
  format: z.enum(['text', 'markdown']),
  mentionUserId: z.optional(z.string()),
  idempotencyKey: z.string().check(z.minLength(1)),
});

/** The sweeper's view of one index item. */
export function openSurfaceEntryOf(item: Readonly<Record<string, unknown>>): OpenSurfaceEntry {
  const pk = String(item.pk);
  const attempts = Number(item.attempts ?? 0);
  const surface = openedSurfaceOf(item);
  if (!surface) return { kind: 'unreadable', pk, attempts, reason: 'no surfaceId/surfaceOpenedAt' };
  const target = parseTarget(item.replyTarget);
  if (typeof target === 'string') return { kind: 'unreadable', pk, attempts, reason: target };
  return { kind: 'open', pk, surface, target, attempts };
}

/** The parsed target, or why it could not be read. */
function parseTarget(raw: unknown): ReplyTarget | string {
  if (typeof raw !== 'string') return 'no replyTarget';
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return 'replyTarget is not JSON';
  }
  const parsed = replyTargetSchema.safeParse(json);
  if (!parsed.success) {
    return `replyTarget: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`;
  }
  return parsed.data;
}
