import { PlatformApiError } from '#core/errors';
import { sendWithRetry } from '#platforms/shared/send-with-retry';
import type { TokenCache } from '#platforms/shared/token-cache';
import type { AdapterDeps, DirectoryEntry } from '#platforms/types';
import * as z from '#shared/zod';
import { withTokenRefresh } from './send';

/** The part of the contact API's user a profile reads. */
const userSchema = z.looseObject({
  data: z.looseObject({ user: z.looseObject({ job_title: z.optional(z.string()) }) }),
});

/**
 * The member's job title from the contact API: `GET /open-apis/contact/v3/users/:user_id?user_id_type=open_id` with
 * the app's `tenant_access_token` (a contact read scope, e.g. `contact:contact.base:readonly`, and the field scope
 * `contact:user.employee:readonly` for `job_title`). One attempt beside the answer (a failure is tried again with the
 * member's next message); a token Feishu rejects is refreshed once. Departments are ids there (`department_ids`):
 * their names need a call per department, so they are not read.
 * @throws PlatformApiError when Feishu refuses (no scope, no such user) or cannot be reached
 */
export async function lookupFeishuMember(
  apiBaseUrl: string,
  openId: string,
  tokens: TokenCache,
  deps: AdapterDeps,
): Promise<DirectoryEntry> {
  const url = `${apiBaseUrl}/open-apis/contact/v3/users/${encodeURIComponent(openId)}?user_id_type=open_id`;
  const response = await withTokenRefresh(tokens, (token) =>
    sendWithRetry(() => ({ url, method: 'GET', headers: { authorization: `Bearer ${token}` } }), deps, {
      policy: { maxAttempts: 1, timeoutMs: 3_000 },
    }),
  );
  let parsed: z.infer<typeof userSchema> | undefined;
  try {
    const result = userSchema.safeParse(JSON.parse(response.body));
    parsed = result.success ? result.data : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed) throw new PlatformApiError('Feishu contact user: unreadable answer', response.status, response.body);
  const title = parsed.data.user.job_title?.trim();
  return title ? { title } : {};
}
