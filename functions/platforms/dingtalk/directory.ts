import { PlatformApiError } from '#core/errors';
import { type OutboundResponse, sendWithRetry, type TokenCache, withTokenRetry } from '#platforms/shared/index';
import type { AdapterDeps, DirectoryEntry } from '#platforms/types';
import * as z from '#shared/zod';
import type { ResolvedDingTalkConfig } from './config';
import { parseJson } from './openapi';
import { dingtalkOapiBaseUrl } from './upload-image';

/**
 * `errcode`s that mean the access token was refused (40014 invalid, 42001 expired) [U: DingTalk's listed codes, as in
 * `upload-image.ts`]: the token is dropped and the call made once more.
 */
const REJECTED_TOKEN_ERRCODES = new Set([40014, 42001]);
/**
 * `errcode`s that mean "no such member": 33012 (invalid userid, DingTalk's reference for `topapi/v2/user/get`) and
 * 60121 (not found, what community clients report) [U: not seen live]. The directory's answer is then "nothing".
 */
const NO_SUCH_MEMBER = new Set([33012, 60121]);
/** "No such department" (60003, DingTalk's reference; one deleted since the member's record was read). */
const NO_SUCH_DEPARTMENT = new Set([60003, 60121]);
/** A staff id never starts so; DingTalk's opaque `senderId` (`$:LWCP_v1:$…`) does. */
const OPAQUE_ID_PREFIX = '$:';
/** Each directory call takes at most this long; the lookup runs beside the answer, never in front of it. */
const CALL_TIMEOUT_MS = 3_000;

const answerSchema = z.looseObject({
  errcode: z.union([z.number(), z.string()]),
  errmsg: z.optional(z.string()),
});

/**
 * `dept_id_list` is documented as Number[], yet DingTalk's own example shows the string `"[2,3,4]"`: both are read.
 */
const deptIdsSchema = z.union([
  z.array(z.number()),
  z.pipe(
    z.string(),
    z.transform((s: string) => {
      const parsed = parseJson(s);
      return Array.isArray(parsed) ? parsed.filter((id): id is number => typeof id === 'number') : [];
    }),
  ),
]);

const userSchema = z.looseObject({
  result: z.looseObject({ title: z.optional(z.string()), dept_id_list: z.optional(deptIdsSchema) }),
});
const departmentSchema = z.looseObject({ result: z.looseObject({ name: z.optional(z.string()) }) });

export interface DingTalkDirectoryContext {
  readonly config: ResolvedDingTalkConfig;
  /** The adapter's token (`/v1.0/oauth2/accessToken`), which the legacy `topapi` takes as `access_token` [U]. */
  readonly tokens: TokenCache;
  readonly deps: AdapterDeps;
}

/**
 * The member's job title and first department from the enterprise-internal app's contact API (legacy host):
 * 1. `POST {oapi}/topapi/v2/user/get?access_token=…` `{"userid"}` → `result.title`, `result.dept_id_list`
 *    (permission 成员信息读权限 `qyapi_get_member`);
 * 2. `POST {oapi}/topapi/v2/department/get?access_token=…` `{"dept_id"}` for the first department → `result.name`
 *    (permission 通讯录部门信息读权限 `qyapi_get_department_list` [U]). Only the first: a member in several
 *    departments would need a call each, and DingTalk does not say which is the main one (the list's order is the
 *    one the directory keeps).
 * `userId` must be the member's staff id (`senderStaffId`); the parser falls back to the opaque `senderId` when an
 * event has none (a member outside the app's organisation), which no directory call accepts: such a lookup is
 * skipped, not failed, so it is not retried. One attempt per call (a failure is retried after the profile's retry
 * window); a refused token is refreshed once.
 * @throws PlatformApiError when DingTalk refuses (errcode: no permission, throttled) or cannot be reached; never with
 *   the token (it is in the query; errors name the path only) and never with the member's record (it holds PII).
 */
export async function lookupDingTalkMember(userId: string, context: DingTalkDirectoryContext): Promise<DirectoryEntry> {
  if (userId.startsWith(OPAQUE_ID_PREFIX)) {
    return { skipped: 'DingTalk sent no senderStaffId for this member; its directory takes staff ids only' };
  }
  const user = await call('/topapi/v2/user/get', { userid: userId }, NO_SUCH_MEMBER, context);
  if (user === undefined) return {};
  const parsedUser = userSchema.safeParse(user);
  if (!parsedUser.success) throw new PlatformApiError('DingTalk topapi/v2/user/get: unreadable answer', 200, '');
  const title = parsedUser.data.result.title?.trim();
  const [deptId] = parsedUser.data.result.dept_id_list ?? [];
  const department = deptId === undefined ? undefined : await departmentName(deptId, context);
  return { ...(title ? { title } : {}), ...(department ? { department } : {}) };
}

async function departmentName(deptId: number, context: DingTalkDirectoryContext): Promise<string | undefined> {
  const answer = await call('/topapi/v2/department/get', { dept_id: deptId }, NO_SUCH_DEPARTMENT, context);
  if (answer === undefined) return undefined;
  const parsed = departmentSchema.safeParse(answer);
  if (!parsed.success) throw new PlatformApiError('DingTalk topapi/v2/department/get: unreadable answer', 200, '');
  return parsed.data.result.name?.trim() || undefined;
}

/** One legacy-API call: the answer's JSON when `errcode` is 0, undefined when it is one of `notFound`. */
async function call(
  path: string,
  body: object,
  notFound: ReadonlySet<number>,
  context: DingTalkDirectoryContext,
): Promise<unknown> {
  const url = `${dingtalkOapiBaseUrl(context.config.apiBaseUrl)}${path}`;
  const payload = JSON.stringify(body);
  const attempt = (token: string): Promise<OutboundResponse> =>
    sendWithRetry(
      () => ({
        url: `${url}?${new URLSearchParams({ access_token: token })}`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: payload,
      }),
      context.deps,
      { policy: { maxAttempts: 1, timeoutMs: CALL_TIMEOUT_MS } },
    );
  const response = await withTokenRetry(context.tokens, attempt, (r) =>
    REJECTED_TOKEN_ERRCODES.has(errcodeOf(r.body) ?? 0),
  );
  const errcode = errcodeOf(response.body);
  if (errcode !== undefined && notFound.has(errcode)) return undefined;
  if (errcode !== 0) {
    const answer = answerSchema.safeParse(parseJson(response.body));
    const errmsg = answer.success && answer.data.errmsg ? `: ${answer.data.errmsg}` : '';
    throw new PlatformApiError(
      `DingTalk ${path.slice(1)} answered errcode ${errcode ?? 'none'}${errmsg}`,
      response.status,
      answer.success ? JSON.stringify({ errcode: answer.data.errcode, errmsg: answer.data.errmsg }) : '',
    );
  }
  return parseJson(response.body);
}

/** `errcode` as a number: DingTalk's examples sometimes write it as a string (`"0"`). */
function errcodeOf(body: string): number | undefined {
  const parsed = answerSchema.safeParse(parseJson(body));
  if (!parsed.success) return undefined;
  const code = Number(parsed.data.errcode);
  return Number.isInteger(code) ? code : undefined;
}
