import { PlatformApiError } from '#core/errors';
import type { AdapterDeps, DirectoryEntry } from '#platforms/types';
import * as z from '#shared/zod';

/** The part of `users.info`'s answer a profile reads: the member's title ("What I do" in Slack's profile). */
const usersInfoSchema = z.looseObject({
  ok: z.boolean(),
  error: z.optional(z.string()),
  user: z.optional(z.looseObject({ profile: z.optional(z.looseObject({ title: z.optional(z.string()) })) })),
});

/** One directory lookup takes at most this long; it runs beside the answer, never in front of it. */
const LOOKUP_TIMEOUT_MS = 3_000;

/**
 * `users.info` (scope `users:read`): the member's `profile.title`. A read method, so its arguments go as a form
 * (Slack accepts JSON bodies for write methods only). One attempt: a failed lookup is simply made again with the
 * member's next message. Slack profiles have no standard department field, so only the title is returned.
 * @throws PlatformApiError when Slack refuses (`missing_scope`, `user_not_found`, …) or cannot be reached
 */
export async function lookupSlackMember(
  apiBaseUrl: string,
  botToken: string,
  userId: string,
  deps: Pick<AdapterDeps, 'fetch'>,
): Promise<DirectoryEntry> {
  let response: Response;
  let text: string;
  try {
    response = await deps.fetch(`${apiBaseUrl}/api/users.info`, {
      method: 'POST',
      headers: { authorization: `Bearer ${botToken}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user: userId }).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
    });
    text = await response.text();
  } catch (cause) {
    throw new PlatformApiError('Slack users.info: no response', 0, '', { cause });
  }
  let parsed: z.infer<typeof usersInfoSchema> | undefined;
  try {
    const result = usersInfoSchema.safeParse(JSON.parse(text));
    parsed = result.success ? result.data : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok || parsed?.ok !== true) {
    throw new PlatformApiError(
      `Slack users.info failed: ${parsed?.error ?? `http_${response.status}`}`,
      response.status,
      text,
    );
  }
  const title = parsed.user?.profile?.title?.trim();
  return title ? { title } : {};
}
