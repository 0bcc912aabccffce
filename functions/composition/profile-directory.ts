import type { ProfileConfig } from '#config/profile-config';
import {
  type DirectoryField,
  MAX_FREE_TEXT_CHARS,
  ProfileValueError,
  parseProfileValue,
  type StoredProfile,
} from '#core/profile/profile';
import type { ChatPlatform, DirectoryEntry } from '#platforms/types';
import { logger } from '#shared/powertools';
import type { Member } from '#stores/active-users';
import type { ProfileStore } from '#stores/profile-store';

/**
 * Keeps the directory's answer about a member (job title, department) cached in their profile, for the platforms
 * the operator enabled (`PROFILE_DIRECTORY`) whose adapter has `lookupMember`. Runs beside the answer, never in
 * front of it: a member's first message is answered without the directory, later ones with it until the cache is
 * older than `PROFILE_DIRECTORY_TTL_HOURS`. Never throws: a lookup that fails is logged and recorded in the profile
 * (`directoryFailedAt`), and the directory is not asked again for that member, by any container, before
 * `PROFILE_DIRECTORY_RETRY_MINUTES` have passed; a write that fails is logged.
 */
export interface DirectoryRefreshDeps {
  readonly store: Pick<ProfileStore, 'putDirectory' | 'putDirectoryFailure'>;
  readonly config: ProfileConfig;
  readonly maskPii: (text: string) => { readonly text: string };
  readonly now: () => number;
}

/**
 * `waiting`: a recent lookup failed and the retry window is still open; `skipped`: the adapter cannot look this
 * member up (`DirectoryEntry.skipped`).
 */
export type DirectoryRefreshResult = 'disabled' | 'fresh' | 'waiting' | 'skipped' | 'stored' | 'raced' | 'failed';

export async function refreshDirectory(
  deps: DirectoryRefreshDeps,
  platform: Pick<ChatPlatform, 'name' | 'lookupMember'>,
  member: Member,
  stored: Promise<StoredProfile>,
): Promise<DirectoryRefreshResult> {
  const lookup = platform.lookupMember?.bind(platform);
  if (!lookup || !deps.config.directoryPlatforms.includes(platform.name)) return 'disabled';
  let read: StoredProfile;
  try {
    read = await stored;
  } catch (err) {
    logger.warn('member directory not refreshed (profile unread); answers go on without it', {
      platform: platform.name,
      error: err as Error,
    });
    return 'failed';
  }
  const now = deps.now();
  const fetchedAt = read.directory?.fetchedAt;
  if (fetchedAt !== undefined && now - fetchedAt < deps.config.directoryTtlMs) return 'fresh';
  const failedAt = read.directoryFailedAt;
  if (failedAt !== undefined && now - failedAt < deps.config.directoryRetryMs) return 'waiting';
  let entry: DirectoryEntry;
  try {
    entry = await lookup(member.tenantId, member.userId);
  } catch (err) {
    logger.warn('member directory not refreshed; answers go on without it', {
      platform: platform.name,
      retryMinutes: deps.config.directoryRetryMs / 60_000,
      error: err as Error,
    });
    return recordFailure(deps, platform.name, member, read, now);
  }
  if (entry.skipped !== undefined) {
    logger.debug('member directory not asked', { platform: platform.name, reason: entry.skipped });
    return 'skipped';
  }
  try {
    const values: Partial<Record<DirectoryField, string>> = {};
    const role = directoryText('role', entry.title, deps);
    const department = directoryText('department', entry.department, deps);
    if (role) values.role = role;
    if (department) values.department = department;
    return (await deps.store.putDirectory(member, values, read, deps.now())) ? 'stored' : 'raced';
  } catch (err) {
    logger.warn('member directory answer not stored; answers go on without it', {
      platform: platform.name,
      error: err as Error,
    });
    return 'failed';
  }
}

async function recordFailure(
  deps: DirectoryRefreshDeps,
  platform: ChatPlatform['name'],
  member: Member,
  read: StoredProfile,
  now: number,
): Promise<DirectoryRefreshResult> {
  try {
    return (await deps.store.putDirectoryFailure(member, read, now)) ? 'failed' : 'raced';
  } catch (err) {
    logger.warn('member directory failure not recorded; asked again with the next message', {
      platform,
      error: err as Error,
    });
    return 'failed';
  }
}

/**
 * A directory value as a profile keeps it: the member-set rules (one line, plain characters, no instruction-like
 * text) after characters outside them become spaces and the length is cut, then PII-masked. Undefined when nothing
 * acceptable is left: a title a directory got wrong is dropped, not stored.
 */
function directoryText(
  field: DirectoryField,
  raw: string | undefined,
  deps: Pick<DirectoryRefreshDeps, 'maskPii'>,
): string | undefined {
  if (raw === undefined) return undefined;
  const plain = raw
    .replace(/[^\p{L}\p{M}\p{N} .,&'()/+\-–—·・、，（）]/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim()
    .slice(0, MAX_FREE_TEXT_CHARS)
    .trim();
  if (plain.length === 0) return undefined;
  try {
    return deps.maskPii(parseProfileValue(field, plain)).text;
  } catch (err) {
    if (err instanceof ProfileValueError) return undefined;
    throw err;
  }
}
