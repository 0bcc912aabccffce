import { MAX_SKILL_RESPONSE_BYTES, type SkillRequest } from '#core/skills/remote-protocol';
import { SkillInvokeError, type SkillInvoker } from '#core/skills/remote-skill';
import { decodeSkillPayload, tooLarge } from './skill-payload';

/**
 * Calls remote skills that are HTTP endpoints (`url` in `SKILLS`): for the sandbox and tests only — the CDK app
 * accepts Lambda ARNs alone, so a deployment never sends members' messages to a plain URL. One POST of the request as
 * JSON, bounded by the call's timeout (`AbortSignal.timeout`, which also bounds reading the body), no redirects
 * followed. Outcomes: 2xx, the body as JSON (at most 64 KiB: `too_large`; not JSON: `invalid_json`); 404
 * `not_found`; 429 `throttled`; 401/403 `access_denied`; 5xx `function_error`; other statuses, redirects and
 * network errors `transport`; the timeout `timeout`.
 */
export interface HttpSkillInvokerOptions {
  /** The endpoint of a skill; undefined: no such skill (`not_found`). */
  readonly urlOf: (skill: string) => string | undefined;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

export function createHttpSkillInvoker(options: HttpSkillInvokerOptions): SkillInvoker {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  return async (request: SkillRequest, timeoutMs: number): Promise<unknown> => {
    const url = options.urlOf(request.skill);
    if (url === undefined) throw new SkillInvokeError('not_found', `no URL configured for skill ${request.skill}`);
    const signal = AbortSignal.timeout(timeoutMs);
    let body: Uint8Array;
    try {
      const response = await fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(request),
        redirect: 'error',
        signal,
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw statusError(response.status);
      }
      body = await readCapped(response);
    } catch (error) {
      if (error instanceof SkillInvokeError) throw error;
      if (signal.aborted) throw new SkillInvokeError('timeout', `no answer within ${timeoutMs} ms`, { cause: error });
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new SkillInvokeError('transport', message.slice(0, 300), { cause: error });
    }
    return decodeSkillPayload(body);
  };
}

function statusError(status: number): SkillInvokeError {
  const message = `HTTP ${status}`;
  if (status === 404) return new SkillInvokeError('not_found', message);
  if (status === 429) return new SkillInvokeError('throttled', message);
  if (status === 401 || status === 403) return new SkillInvokeError('access_denied', message);
  if (status >= 500) return new SkillInvokeError('function_error', message);
  return new SkillInvokeError('transport', message);
}

/** The body, read until it passes `MAX_SKILL_RESPONSE_BYTES` at the latest (then `too_large`, the rest unread). */
async function readCapped(response: Response): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > MAX_SKILL_RESPONSE_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(declared);
  }
  if (response.body === null) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_SKILL_RESPONSE_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`more than ${MAX_SKILL_RESPONSE_BYTES}`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
