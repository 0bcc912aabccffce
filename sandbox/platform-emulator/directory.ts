/**
 * The emulated platforms' member directory (what Slack's `users.info` and the other directory APIs answer about a
 * member), keyed `<platform>:<userId>`. Members not in it have an empty entry (no title, no department), as most
 * real members do until an administrator fills their profile. Tests and the sandbox set entries directly.
 */
export interface EmulatedDirectoryEntry {
  readonly title?: string;
  readonly department?: string;
}

export const EMULATED_DIRECTORY = new Map<string, EmulatedDirectoryEntry>();

export function directoryEntry(platform: string, userId: string): EmulatedDirectoryEntry {
  return EMULATED_DIRECTORY.get(`${platform}:${userId}`) ?? {};
}
