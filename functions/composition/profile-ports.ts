import { groupDefaultsFor, type ProfileConfig } from '#config/profile-config';
import {
  describeProfile,
  EMPTY_PROFILE,
  FREE_TEXT_FIELDS,
  type ProfileShaping,
  parseProfileValue,
  profileShaping,
  resolveProfile,
  type StoredProfile,
} from '#core/profile/profile';
import type { ProfilePorts } from '#core/skills/profile';
import { logger } from '#shared/powertools';
import type { Member } from '#stores/active-users';
import type { CapacitySink } from '#stores/capacity';
import type { ProfileStore } from '#stores/profile-store';

/**
 * Member profiles bound to one asking member: the profile commands' ports and the shaping of the member's answers.
 * The commands always read the profile afresh (strongly consistent) and write through `ProfileStore`, whose writes
 * carry their audit records; free text (role, department) is PII-masked before it is stored.
 */
export interface MemberProfileDeps {
  readonly store: Pick<ProfileStore, 'load' | 'set' | 'clear' | 'forget'>;
  readonly config: ProfileConfig;
  readonly maskPii: (text: string) => { readonly text: string; readonly found: number };
  readonly now: () => number;
}

export function memberProfile(
  deps: MemberProfileDeps,
  member: Member,
  meter: CapacitySink,
  /** The profile read started earlier (the worker's batch); read here when absent. */
  prefetched?: Promise<StoredProfile>,
) {
  const { store, config, now } = deps;
  const defaults = groupDefaultsFor(config, member.platform, member.chatId);
  const load = () => store.load(member, now(), meter);

  const commands: ProfilePorts = {
    show: async () => describeProfile(await load(), defaults, config.directoryTtlMs),
    set: async (field, raw) => {
      const parsed = parseProfileValue(field, raw);
      const free = FREE_TEXT_FIELDS.has(field);
      // Masked before it is stored (a phone number typed as a "role" is kept as `[手机号]`).
      const value = free ? deps.maskPii(parsed).text : parsed;
      await store.set(
        member,
        field,
        value,
        { action: 'set', fields: [field], source: 'member', ...(free ? {} : { value }) },
        now(),
        meter,
      );
      // Free text is not echoed: the reply is kept in the audit record, which holds no free-text value.
      const saved = free ? `Saved your ${field}` : `Saved: ${field} = ${value}`;
      return `${saved}. Your next answers use it; /profile shows everything, /profile clear ${field} removes it.`;
    },
    clear: async (field) => {
      await store.clear(member, field, now(), meter);
      return `Cleared: ${field}. The directory's or the group's value applies, if there is one.`;
    },
    forget: () => store.forget(member, now(), meter),
  };

  /** What shapes this member's answers; a profile that cannot be read shapes nothing (the question is answered). */
  async function shaping(): Promise<ProfileShaping | undefined> {
    try {
      const stored = await (prefetched ?? load());
      return profileShaping(resolveProfile(stored, defaults));
    } catch (err) {
      logger.warn('member profile not read; answering without it', { error: err as Error });
      return profileShaping(resolveProfile(EMPTY_PROFILE, defaults));
    }
  }

  return { commands, shaping };
}

/** The block a member with no profile of their own gets in this chat: the group default's (the prefetch's key). */
export function groupDefaultBlock(config: ProfileConfig, member: Pick<Member, 'platform' | 'chatId'>): string {
  return profileShaping(resolveProfile(EMPTY_PROFILE, groupDefaultsFor(config, member.platform, member.chatId))).block;
}
