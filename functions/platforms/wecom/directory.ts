import { PlatformApiError } from '#core/errors';
import {
  createTokenCache,
  isRecord,
  type OutboundResponse,
  type SendDeps,
  sendWithRetry,
  type TokenCache,
  withTokenRetry,
} from '#platforms/shared/index';
import type { AdapterDeps, DirectoryEntry } from '#platforms/types';
import * as z from '#shared/zod';
import type { WeComDirectoryConfig } from './config';

/** `errcode`s that mean the access token was refused: 40014 invalid, 42001 expired (WeCom's global codes). */
const REJECTED_TOKEN_ERRCODES = new Set([40014, 42001]);
/** "No such member" (60111 UserID不存在, 46004 指定的用户不存在): the directory's answer is then "nothing". */
const NO_SUCH_MEMBER = new Set([60111, 46004]);
/** "No such department" (60003 部门ID不存在, 60123 无效的部门id). */
const NO_SUCH_DEPARTMENT = new Set([60003, 60123]);
/** Each directory call takes at most this long; the lookup runs beside the answer, never in front of it. */
const CALL_TIMEOUT_MS = 3_000;

const answerSchema = z.looseObject({ errcode: z.optional(z.number()), errmsg: z.optional(z.string()) });
const tokenSchema = z.looseObject({
  access_token: z.string().check(z.minLength(1)),
  expires_in: z.number().check(z.positive()),
});
const userSchema = z.looseObject({ position: z.optional(z.string()), department: z.optional(z.array(z.number())) });
const departmentSchema = z.looseObject({ department: z.looseObject({ name: z.optional(z.string()) }) });

/**
 * The directory app's `access_token` (`GET /cgi-bin/gettoken?corpid&corpsecret`, 7200 s): one fetch per expiry,
 * shared by every lookup of the adapter. The secret is in the query, so no error names the URL's query.
 */
export function createWeComDirectoryTokens(directory: WeComDirectoryConfig, deps: SendDeps): TokenCache {
  return createTokenCache({
    now: deps.now,
    fetchToken: async () => {
      const response = await sendWithRetry(
        () => ({
          url: `${directory.apiBaseUrl}/cgi-bin/gettoken?${new URLSearchParams({
            corpid: directory.corpId,
            corpsecret: directory.corpSecret,
          })}`,
          method: 'GET',
          headers: {},
        }),
        deps,
        { policy: { maxAttempts: 1, timeoutMs: CALL_TIMEOUT_MS } },
      );
      const token = tokenSchema.safeParse(parseObject(response.body));
      if (!token.success) {
        throw new PlatformApiError(`WeCom gettoken answered ${describeError(response.body)}`, response.status, '');
      }
      return { value: token.data.access_token, expiresAt: deps.now() + token.data.expires_in * 1000 };
    },
  });
}

/**
 * The member's `position` and first department's name from the contact API, with a self-built app's token (the AI
 * bot's credentials cannot call it; `directoryCorpId`/`directoryCorpSecret` in the WeCom secret):
 * 1. `GET /cgi-bin/user/get?access_token&userid` → `position`, `department` (ids);
 * 2. `GET /cgi-bin/department/get?access_token&id` for the first id → `department.name`. Only the first: each
 *    department is a call, and `main_department` is not returned to every app.
 * The app sees only members and departments in its visible range (可见范围), and WeCom only answers from the app's
 * trusted IPs (企业可信IP, errcode 60020 otherwise) [U: for apps created after 2022-06-20; not tried live].
 * One attempt per call (a failure is retried after the profile's retry window); a refused token is refreshed once.
 * @throws PlatformApiError when WeCom refuses (errcode: no permission, IP not trusted, throttled) or cannot be
 *   reached; never with the token or the secret, never with the member's record.
 */
export async function lookupWeComMember(
  userId: string,
  directory: WeComDirectoryConfig,
  tokens: TokenCache,
  deps: AdapterDeps,
): Promise<DirectoryEntry> {
  const user = await call('/cgi-bin/user/get', { userid: userId }, NO_SUCH_MEMBER, { directory, tokens, deps });
  if (user === undefined) return {};
  const parsed = userSchema.safeParse(user);
  if (!parsed.success) throw new PlatformApiError('WeCom cgi-bin/user/get: unreadable answer', 200, '');
  const title = parsed.data.position?.trim();
  const [departmentId] = parsed.data.department ?? [];
  const department =
    departmentId === undefined ? undefined : await departmentName(departmentId, { directory, tokens, deps });
  return { ...(title ? { title } : {}), ...(department ? { department } : {}) };
}

interface CallContext {
  readonly directory: WeComDirectoryConfig;
  readonly tokens: TokenCache;
  readonly deps: AdapterDeps;
}

async function departmentName(id: number, context: CallContext): Promise<string | undefined> {
  const answer = await call('/cgi-bin/department/get', { id: String(id) }, NO_SUCH_DEPARTMENT, context);
  if (answer === undefined) return undefined;
  const parsed = departmentSchema.safeParse(answer);
  if (!parsed.success) throw new PlatformApiError('WeCom cgi-bin/department/get: unreadable answer', 200, '');
  return parsed.data.department.name?.trim() || undefined;
}

/** One call: the answer's JSON when `errcode` is 0, undefined when it is one of `notFound`. */
async function call(
  path: string,
  query: Record<string, string>,
  notFound: ReadonlySet<number>,
  context: CallContext,
): Promise<Record<string, unknown> | undefined> {
  const attempt = (token: string): Promise<OutboundResponse> =>
    sendWithRetry(
      () => ({
        url: `${context.directory.apiBaseUrl}${path}?${new URLSearchParams({ access_token: token, ...query })}`,
        method: 'GET',
        headers: {},
      }),
      context.deps,
      { policy: { maxAttempts: 1, timeoutMs: CALL_TIMEOUT_MS } },
    );
  const response = await withTokenRetry(context.tokens, attempt, (r) =>
    REJECTED_TOKEN_ERRCODES.has(errcodeOf(r.body) ?? 0),
  );
  const errcode = errcodeOf(response.body);
  if (errcode !== undefined && notFound.has(errcode)) return undefined;
  const answer = parseObject(response.body);
  if (errcode !== 0 || answer === undefined) {
    throw new PlatformApiError(
      `WeCom ${path.slice(1)} answered ${describeError(response.body)}`,
      response.status,
      JSON.stringify({ errcode, errmsg: errmsgOf(response.body) }),
    );
  }
  return answer;
}

function errcodeOf(body: string): number | undefined {
  const parsed = answerSchema.safeParse(parseObject(body));
  return parsed.success ? parsed.data.errcode : undefined;
}

function errmsgOf(body: string): string | undefined {
  const parsed = answerSchema.safeParse(parseObject(body));
  return parsed.success ? parsed.data.errmsg : undefined;
}

/** `errcode 60020: not allow to access from your ip`, or what is wrong with an answer that has none. */
function describeError(body: string): string {
  const errcode = errcodeOf(body);
  if (errcode === undefined) return 'no errcode (unreadable answer)';
  const errmsg = errmsgOf(body);
  return `errcode ${errcode}${errmsg ? `: ${errmsg}` : ''}`;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
