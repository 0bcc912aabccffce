import {
  blockTextFor,
  DEFAULT_FILTER_POLICY,
  type FilterOptions,
  type FilterResult,
  filterContent,
  isRiskLevel,
  type RiskLevel,
} from './content-filter';

/**
 * The lexicon filter combined with a pluggable external moderation API, with a time limit and a fail-closed/open
 * switch. The lexicon runs first (synchronous, microseconds); the provider is only called when the lexicon has not
 * already blocked.
 */

/** Verdict of an external moderation API; level 0 means nothing found. */
export interface ModerationVerdict {
  readonly level: 0 | RiskLevel;
  readonly categories: readonly string[];
}

/** Pluggable external moderation (a cloud content-safety API, a classifier endpoint, …). */
export interface ModerationProvider {
  /** Must honour `signal`: it is aborted when the time limit passes. */
  check(text: string, signal?: AbortSignal): Promise<ModerationVerdict>;
}

export type ProviderOutcome =
  | { readonly status: 'ok'; readonly verdict: ModerationVerdict }
  /** No provider configured, or the lexicon already blocked so the call was not worth its latency. */
  | { readonly status: 'skipped' }
  | { readonly status: 'failed'; readonly reason: 'timeout' | 'error' | 'bad_response'; readonly message: string };

export interface ModerateOptions extends FilterOptions {
  readonly provider?: ModerationProvider;
  /** Time limit for the provider call. @default 2000 */
  readonly providerTimeoutMs?: number;
  /**
   * What a provider failure (error, timeout, malformed verdict) means. 'closed' blocks the text; 'open' keeps the
   * lexicon's decision alone. Closed is the default because configuring a provider says the lexicon alone is not
   * enough; choose 'open' when availability matters more than the extra check. Either way the outcome is reported
   * so it can be logged and alarmed on. @default 'closed'
   */
  readonly providerFailure?: 'closed' | 'open';
}

export interface ModerationResult extends FilterResult {
  readonly provider: ProviderOutcome;
}

export const DEFAULT_PROVIDER_TIMEOUT_MS = 2_000;

function isVerdict(value: unknown): value is ModerationVerdict {
  if (typeof value !== 'object' || value === null) return false;
  const { level, categories } = value as { level?: unknown; categories?: unknown };
  return (
    (level === 0 || isRiskLevel(level)) &&
    Array.isArray(categories) &&
    categories.every((category) => typeof category === 'string')
  );
}

type CalledOutcome = Exclude<ProviderOutcome, { status: 'skipped' }>;

async function checkWithTimeout(provider: ModerationProvider, text: string, timeoutMs: number): Promise<CalledOutcome> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const result = await Promise.race([provider.check(text, controller.signal), timedOut]);
    if (result === 'timeout') {
      controller.abort();
      return { status: 'failed', reason: 'timeout', message: `moderation provider exceeded ${timeoutMs} ms` };
    }
    if (!isVerdict(result)) return { status: 'failed', reason: 'bad_response', message: 'malformed verdict' };
    return { status: 'ok', verdict: result };
  } catch (err) {
    return { status: 'failed', reason: 'error', message: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Lexicon filter combined with an optional external provider. The provider sees the original text and has no spans,
 * so a provider verdict whose policy action is 'mask' blocks instead: there is nothing precise to mask.
 */
export async function moderate(text: string, options: ModerateOptions): Promise<ModerationResult> {
  const local = filterContent(text, options);
  if (options.provider === undefined || local.decision === 'block')
    return { ...local, provider: { status: 'skipped' } };
  const policy = options.policy ?? DEFAULT_FILTER_POLICY;
  const blocked = (): string => blockTextFor(policy, options.language ?? 'zh');
  const outcome = await checkWithTimeout(
    options.provider,
    text,
    options.providerTimeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS,
  );
  if (outcome.status === 'failed') {
    if ((options.providerFailure ?? 'closed') === 'closed') {
      return { ...local, decision: 'block', text: blocked(), provider: outcome };
    }
    return { ...local, provider: outcome };
  }
  if (outcome.verdict.level === 0) return { ...local, provider: outcome };
  const level = outcome.verdict.level;
  const maxLevel = Math.max(level, local.maxLevel) as RiskLevel;
  if (policy.actions[level] === 'allow') return { ...local, maxLevel, provider: outcome };
  return { ...local, decision: 'block', text: blocked(), maxLevel, provider: outcome };
}
