import { type GroupDefaults, PROFILE_FIELDS, type ProfileField, parseProfileValue } from '#core/profile/profile';
import { LEDGER_PLATFORMS, type LedgerPlatform, PLATFORMS, type PlatformName } from '#platforms/types';
import * as z from '#shared/zod';

/**
 * Member profiles' settings (docs/PROFILES.md), shared by the worker and `/v1/chat` through `pipelineEnvShape`:
 * - `PROFILE_RETENTION_DAYS`: a profile untouched this long is deleted by DynamoDB TTL (every change renews it);
 * - `PROFILE_GROUP_DEFAULTS`: JSON `{"*" | "<platform>:*" | "<platform>:<chatId>": {field: value}}`, the values a
 *   group's members get unless they or the directory say otherwise; the most specific entry replaces the others;
 * - `PROFILE_DIRECTORY`: comma-separated platforms whose directory (job title, department) is looked up;
 * - `PROFILE_DIRECTORY_TTL_HOURS`: how long a directory answer is kept in the profile before it is asked again;
 * - `PROFILE_DIRECTORY_RETRY_MINUTES`: how long after a failed lookup the directory is not asked again for that member.
 */

export const DEFAULT_PROFILE_RETENTION_DAYS = 365;
export const DEFAULT_PROFILE_DIRECTORY_TTL_HOURS = 24;
export const DEFAULT_PROFILE_DIRECTORY_RETRY_MINUTES = 15;
/** A day: a longer wait is better served by not enabling the directory at all. */
export const MAX_PROFILE_DIRECTORY_RETRY_MINUTES = 24 * 60;

const GROUP_REF = new RegExp(`^(\\*|(${LEDGER_PLATFORMS.join('|')}):.+)$`);

/** One group's defaults: known fields only, each value as a member could set it (and stored canonical). */
const groupDefaultsSchema = z.pipe(
  z.record(z.string(), z.record(z.string(), z.string())),
  z.transform((raw: Record<string, Record<string, string>>, ctx) => {
    const out: Record<string, GroupDefaults> = {};
    for (const [group, values] of Object.entries(raw)) {
      if (!GROUP_REF.test(group)) {
        ctx.issues.push({
          code: 'custom',
          path: [group],
          message: `keys must be *, platform:* or platform:chatId (${LEDGER_PLATFORMS.join(', ')})`,
          input: group,
        });
        continue;
      }
      const parsed: Partial<Record<ProfileField, string>> = {};
      for (const [field, value] of Object.entries(values)) {
        if (!(PROFILE_FIELDS as readonly string[]).includes(field)) {
          ctx.issues.push({
            code: 'custom',
            path: [group, field],
            message: `unknown field; fields: ${PROFILE_FIELDS.join(', ')}`,
            input: field,
          });
          continue;
        }
        try {
          parsed[field as ProfileField] = parseProfileValue(field as ProfileField, value);
        } catch (err) {
          ctx.issues.push({ code: 'custom', path: [group, field], message: (err as Error).message, input: value });
        }
      }
      out[group] = parsed;
    }
    return out;
  }),
);

export const profileGroupDefaultsSchema = groupDefaultsSchema;

export interface ProfileConfig {
  readonly retentionDays: number;
  /** Keyed `*`, `platform:*` or `platform:chatId`. */
  readonly groupDefaults: Readonly<Record<string, GroupDefaults>>;
  /** Platforms whose directory is asked for a member's job title and department. */
  readonly directoryPlatforms: readonly PlatformName[];
  readonly directoryTtlMs: number;
  /** After a failed lookup, the directory is not asked again for that member before this many ms. */
  readonly directoryRetryMs: number;
}

/** The most specific group-default entry for a chat: its own, else its platform's, else `*`, else none. */
export function groupDefaultsFor(config: ProfileConfig, platform: LedgerPlatform, chatId: string): GroupDefaults {
  const d = config.groupDefaults;
  return d[`${platform}:${chatId}`] ?? d[`${platform}:*`] ?? d['*'] ?? {};
}

export const directoryPlatformsSchema = z.array(z.enum(PLATFORMS));
