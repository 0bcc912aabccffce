import { PlatformApiError } from '#core/errors';
import { backoffMs, DEFAULT_RETRY_POLICY, retryAfterMs } from '#platforms/shared/send-with-retry';
import type { AdapterDeps } from '#platforms/types';
import * as z from '#shared/zod';

/** The part of a Slack Web API answer the streaming calls read; other fields are kept but unused. */
const slackAnswerSchema = z.looseObject({ ok: z.boolean(), error: z.optional(z.string()), ts: z.optional(z.string()) });
export type SlackAnswer = z.infer<typeof slackAnswerSchema>;

/**
 * A Slack method call that failed. `definite`: Slack answered and refused (`ok:false`, a 4xx, or still throttled
 * after the retries), so nothing changed. Otherwise the outcome is unknown (5xx, no answer, unreadable body): the
 * call may have been applied.
 */
export class SlackMethodError extends PlatformApiError {
  constructor(
    readonly method: string,
    /** Slack's `error` code (`message_not_in_streaming_state`, `ratelimited`…), or `http_<status>` / `no_response`. */
    readonly slackError: string,
    readonly definite: boolean,
    status: number,
    body: string,
    options?: { cause?: unknown },
  ) {
    super(`Slack ${method} failed: ${slackError}`, status, body, options);
    this.name = 'SlackMethodError';
  }
}

export interface SlackCallOptions {
  /**
   * Retry a 5xx or a lost answer. Only for calls whose repetition is harmless (`chat.update` rewrites the whole text;
   * a repeated `chat.stopStream` is refused as `message_not_in_streaming_state`). `chat.appendStream` and
   * `chat.startStream` are never repeated blindly: a second append would double text, a second start a message.
   */
  readonly retryServerErrors: boolean;
  /** Total attempts including the first. @default DEFAULT_RETRY_POLICY.maxAttempts */
  readonly maxAttempts?: number;
}

export type SlackCall = (method: string, body: object, options: SlackCallOptions) => Promise<SlackAnswer>;

/**
 * Calls Slack Web API methods with a JSON body and the bot token. Throttling (HTTP 429, or HTTP 200 `ratelimited`)
 * is always retried after `Retry-After` (else backoff): a throttled call was not applied, so it is safe to repeat.
 * `shared/send-with-retry.ts` is not used here because it retries every 5xx, which these non-idempotent stream
 * methods must not. Redirects are never followed.
 */
export function slackWebApi(apiBaseUrl: string, botToken: string, deps: AdapterDeps): SlackCall {
  const policy = DEFAULT_RETRY_POLICY;
  return async (method, body, options) => {
    const attempts = options.maxAttempts ?? policy.maxAttempts;
    const backoff = (attempt: number) => deps.sleep(backoffMs(attempt, policy, Math.random));
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= attempts;
      let response: Response;
      let text: string;
      try {
        response = await deps.fetch(`${apiBaseUrl}/api/${method}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${botToken}`, 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify(body),
          redirect: 'manual',
          signal: AbortSignal.timeout(policy.timeoutMs),
        });
        text = await response.text();
      } catch (cause) {
        if (options.retryServerErrors && !last) {
          await backoff(attempt);
          continue;
        }
        throw new SlackMethodError(method, 'no_response', false, 0, '', { cause });
      }
      const answer = readAnswer(text);
      if (response.status === 429 || answer?.error === 'ratelimited') {
        if (last) throw new SlackMethodError(method, 'ratelimited', true, response.status, text);
        const wait = retryAfterMs(response.headers.get('retry-after'), deps.now(), policy.maxRetryAfterMs);
        await (wait === undefined ? backoff(attempt) : deps.sleep(wait));
        continue;
      }
      if (response.status >= 500) {
        if (options.retryServerErrors && !last) {
          await backoff(attempt);
          continue;
        }
        throw new SlackMethodError(method, `http_${response.status}`, false, response.status, text);
      }
      if (response.status < 200 || response.status >= 300) {
        throw new SlackMethodError(method, `http_${response.status}`, true, response.status, text);
      }
      if (answer?.ok === true) return answer;
      if (answer?.ok === false) {
        throw new SlackMethodError(method, answer.error ?? 'unknown_error', true, response.status, text);
      }
      throw new SlackMethodError(method, 'unreadable_answer', false, response.status, text);
    }
  };
}

function readAnswer(text: string): SlackAnswer | undefined {
  try {
    const parsed = slackAnswerSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `err` is Slack's definite refusal with one of `codes`. */
export function isSlackRefusal(err: unknown, codes: ReadonlySet<string>): err is SlackMethodError {
  return err instanceof SlackMethodError && err.definite && codes.has(err.slackError);
}
