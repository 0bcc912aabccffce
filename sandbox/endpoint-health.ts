import { ENV } from '#config/env-names';
import { DEFAULT_MESSAGES } from '#core/pipeline-messages';
import { FALLBACK_MODEL_ENV } from './fallback-model';

/**
 * The start-up check of model endpoints the user named (`MODEL_ENDPOINT_URL`, `FALLBACK_MODEL_ENDPOINT_URL`): each
 * must answer the contract's `GET /ping` (ARCHITECTURE §4.1, a SageMaker container's health check) with 200. One that
 * does not is not fatal — the server may come up later — but every reply would silently be an apology, so the
 * sandbox says so at start-up, naming the URL and what members will see.
 */

/** How long one ping may take: a server on this machine or network answers in milliseconds. */
const PING_TIMEOUT_MS = 3_000;

export type PingOutcome = { readonly ok: true } | { readonly ok: false; readonly problem: string };

/** `GET <url>/ping` (below the URL's own path); ok on HTTP 200 only. */
export async function pingEndpoint(url: string, timeoutMs = PING_TIMEOUT_MS): Promise<PingOutcome> {
  let ping: URL;
  try {
    ping = new URL(url);
  } catch {
    return { ok: false, problem: 'not a URL' };
  }
  ping.pathname = `${ping.pathname.replace(/\/$/, '')}/ping`;
  ping.search = '';
  try {
    const res = await fetch(ping, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.status === 200 ? { ok: true } : { ok: false, problem: `it answered HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, problem: describeFetchFailure(err, timeoutMs) };
  }
}

function describeFetchFailure(err: unknown, timeoutMs: number): string {
  const error = err as Error & { cause?: { code?: unknown; message?: unknown } };
  if (error.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  const code = typeof error.cause?.code === 'string' ? error.cause.code : undefined;
  if (code === 'ECONNREFUSED') return 'connection refused: nothing listens there';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${code})`;
  const detail = typeof error.cause?.message === 'string' ? error.cause.message : error.message;
  return code ? `${code}: ${detail}` : detail;
}

/** The apology members get when no model answers (the pipeline's default message). */
const APOLOGY = `the apology "${DEFAULT_MESSAGES.modelUnavailable}"`;

export interface UnreachableEndpoints {
  /** Set when an external primary failed its ping. */
  readonly primary?: { readonly url: string; readonly problem: string };
  /** The backup model, when there is one; `problem` when it is external and failed its ping. */
  readonly fallback?: { readonly url: string; readonly modelId: string; readonly problem?: string };
}

/**
 * The start-up warnings for endpoints that failed their ping, each a sentence naming the variable, the URL, why,
 * and what replies will be meanwhile.
 */
export function unreachableWarnings(endpoints: UnreachableEndpoints): string[] {
  const { primary, fallback } = endpoints;
  const backupAnswers = fallback && fallback.problem === undefined;
  const warnings: string[] = [];
  if (primary) {
    const meanwhile = backupAnswers
      ? `replies come from the backup model ${fallback.modelId} at ${fallback.url}`
      : `every reply is ${APOLOGY}`;
    warnings.push(
      `WARNING: the model endpoint ${ENV.modelEndpointUrl}=${primary.url} does not answer GET /ping (${primary.problem}). ` +
        `Until it does, ${meanwhile}.`,
    );
  }
  if (fallback?.problem !== undefined) {
    warnings.push(
      `WARNING: the backup model endpoint ${FALLBACK_MODEL_ENV.endpointUrl}=${fallback.url} does not answer GET /ping ` +
        `(${fallback.problem}). While the primary cannot answer, replies are ${APOLOGY} instead of the backup's.`,
    );
  }
  return warnings;
}
