import type { BundleRow } from './bundle-bench';
import type { FallbackResult, SwitchCall } from './fallback-bench';
import {
  AFTER_FIRST_TOKEN_TARGET_MS,
  type FirstVisibleRow,
  type ModelTtftRow,
  type StreamingResult,
  VISIBLE_WAIT_MS,
} from './streaming-bench';
import type { StreamCallsRow } from './streaming-calls';
import type { WebhookRow } from './webhook-bench';

/**
 * Targets from the issues: in-process handler latency against dynalite + fauxqs and the webhook bundle size (issue
 * 14); since issue 22 a fresh event within 3 ms median / 10 ms p99, and the webhook's module init within 60 ms and
 * 0.3× each minimal peer Lambda's (judged in the cold-start table, `webhookInitVerdict`).
 */
export const TARGETS = {
  medianMs: 3,
  p99Ms: 10,
  webhookBundleKb: 250,
  webhookInitMs: 60,
  webhookInitPeerRatio: 0.3,
} as const;

export type Verdict = 'PASS' | 'MISS' | 'n/a';

export function latencyVerdict(row: WebhookRow): Verdict {
  if (row.n === 0 || row.path === 'io-floor') return 'n/a';
  return row.medianMs <= TARGETS.medianMs && row.p99Ms <= TARGETS.p99Ms ? 'PASS' : 'MISS';
}

export function bundleVerdict(row: BundleRow): Verdict {
  if (row.entry !== 'webhook' || row.bytes === undefined) return 'n/a';
  return row.bytes / 1024 <= TARGETS.webhookBundleKb ? 'PASS' : 'MISS';
}

export function webhookTable(rows: readonly WebhookRow[]): string {
  return table(
    [
      'platform',
      'path',
      'n',
      'median ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      'req/s',
      'statuses',
      'sends',
      'queued',
      'target',
    ],
    rows.map((r) => [
      r.platform,
      r.path,
      `${r.n}${r.truncated ? '*' : ''}`,
      ms(r.medianMs),
      ms(r.p90Ms),
      ms(r.p99Ms),
      ms(r.maxMs),
      r.reqPerSec.toFixed(0),
      Object.entries(r.statuses)
        .map(([code, count]) => `${code}×${count}`)
        .join(' '),
      r.sends === undefined ? '' : String(r.sends),
      r.queued === undefined ? '' : `${r.queued}/${r.expectedQueued}`,
      latencyVerdict(r),
    ]),
  );
}

export function bundleTable(rows: readonly BundleRow[]): string {
  return table(
    ['entry', 'variant', 'size KB', 'bytes', 'init ms (median)', 'init runs ms', 'target', 'note'],
    rows.map((r) => [
      r.entry,
      r.variant,
      r.bytes === undefined ? '' : (r.bytes / 1024).toFixed(1),
      r.bytes === undefined ? '' : String(r.bytes),
      r.initMedianMs === undefined ? '' : ms(r.initMedianMs),
      (r.initRunsMs ?? []).map(ms).join(' '),
      bundleVerdict(r),
      [r.placeholder ? 'PLACEHOLDER entry' : '', r.error ?? ''].filter(Boolean).join('; '),
    ]),
  );
}

/** The largest packages inside each webhook bundle: where to look when the size target is missed. */
export function webhookComposition(rows: readonly BundleRow[]): string {
  return rows
    .filter((r) => r.entry === 'webhook' && r.topInputs)
    .map(
      (r) =>
        `webhook (${r.variant}) largest inputs: ${(r.topInputs ?? [])
          .map((i) => `${i.name} ${(i.bytes / 1024).toFixed(1)} KB`)
          .join(', ')}`,
    )
    .join('\n');
}

/** Streaming targets from issue 15: webhook ack → first visible text. */
export const STREAMING_TARGETS = { p50Ms: 300, p99Ms: 1000 } as const;

/** WeCom's first text waits for WeCom's next poll of the stream (~1 s), which the bot cannot shorten: judged apart. */
export function firstVisibleVerdict(row: FirstVisibleRow): Verdict | 'polled' {
  if (row.sent === 0) return 'n/a';
  if (row.platform === 'wecom') return 'polled';
  return row.p50AllMs <= STREAMING_TARGETS.p50Ms && row.p99AllMs <= STREAMING_TARGETS.p99Ms ? 'PASS' : 'MISS';
}

export function streamCallsVerdict(row: StreamCallsRow): Verdict {
  if (row.errors > 0 || !row.complete) return 'MISS';
  if (!row.limit || row.maxInLimitWindow === undefined) return 'n/a';
  return row.maxInLimitWindow <= row.limit.max ? 'PASS' : 'MISS';
}

export function modelTtftVerdict(row: ModelTtftRow): Verdict | 'polled' {
  if (row.sent === 0) return 'n/a';
  if (row.platform === 'wecom') return 'polled';
  return row.lost === 0 && row.withinTarget === row.sent ? 'PASS' : 'MISS';
}

export function streamingReport(result: StreamingResult): string {
  const { instant } = result;
  const beyond = `> ${VISIBLE_WAIT_MS / 1000} s`;
  const allMs = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : beyond);
  const parts = [
    `Streamed replies, first visible text (sandbox child, instant model paced ${instant.paceMs} ms/word, ~${instant.questionWords}-word question; one event per platform every ${instant.intervalMs} ms, open loop; worker concurrency ${instant.workerConcurrency}; webhook ack → first SSE delivery event; targets p50 ≤ ${STREAMING_TARGETS.p50Ms} ms, p99 ≤ ${STREAMING_TARGETS.p99Ms} ms; lost = no text within ${VISIBLE_WAIT_MS / 1000} s, counted as later than any)`,
    table(
      [
        'platform',
        'sent',
        'lost',
        'streamed',
        'ack ms',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'streamed for ms',
        'target',
      ],
      instant.rows.map((r) => [
        r.platform,
        String(r.sent),
        String(r.lost),
        String(r.streamed),
        r.ackMedianMs.toFixed(0),
        allMs(r.p50AllMs),
        r.lost > 0 ? '' : r.firstVisible.p90Ms.toFixed(0),
        allMs(r.p99AllMs),
        r.lost > 0 ? beyond : r.firstVisible.maxMs.toFixed(0),
        Number.isFinite(r.streamedMedianMs) ? r.streamedMedianMs.toFixed(0) : '',
        firstVisibleVerdict(r),
      ]),
    ),
    'polled: WeCom shows a streamed reply only when it polls the stream (a refresh callback about once a second after the ack); the bot answers each poll from its latest snapshot, so its first text lands one poll interval after the ack.',
    ...instant.rows
      .filter((r) => r.platform === 'slack' && r.lost > 0)
      .map(
        (r) =>
          `slack lost ${r.lost}/${r.sent}: chat.startStream is Tier 2 (20/min per workspace); past it the adapter waits out Retry-After (up to a minute) before it posts anything. The ${r.firstVisible.n} within the limit: p50 ${r.firstVisible.medianMs.toFixed(0)} ms, p99 ${r.firstVisible.p99Ms.toFixed(0)} ms.`,
      ),
    '',
    'Platform calls per streamed reply: a 60 s answer updated every 50 ms (1,200 updates), real sessions against the emulators on a fake clock',
    table(
      ['platform', 'calls/reply', 'limited calls', 'max in 1 s', 'max in limit window', 'limit', 'errors', 'target'],
      result.calls.map((r) => [
        r.platform,
        String(r.callsPerReply),
        r.limitedCalls,
        String(r.maxPerSecond),
        r.maxInLimitWindow === undefined || !r.limit ? '' : `${r.maxInLimitWindow} per ${r.limit.windowMs / 1000} s`,
        r.limitNote,
        String(r.errors),
        streamCallsVerdict(r),
      ]),
    ),
    '',
  ];
  if ('skipped' in result.model) {
    parts.push(`First visible text vs model TTFT: skipped (${result.model.skipped}).`);
  } else {
    parts.push(
      `First visible text vs model TTFT (${result.model.path}, llama engine in its own process behind a timing proxy; one reply at a time; target: first visible ≤ first token + ${AFTER_FIRST_TOKEN_TARGET_MS} ms)`,
      table(
        [
          'platform',
          'replies',
          'lost',
          'streamed',
          'TTFT p50 ms',
          'after token p50 ms',
          'after token max ms',
          `≤ ${AFTER_FIRST_TOKEN_TARGET_MS} ms`,
          'ack → visible p50 ms',
          'target',
        ],
        result.model.rows.map((r) => [
          r.platform,
          String(r.sent),
          String(r.lost),
          String(r.streamed),
          ms(r.ttftMedianMs),
          ms(r.afterFirstToken.medianMs),
          ms(r.afterFirstToken.maxMs),
          `${r.withinTarget}/${r.sent}`,
          r.firstVisibleMedianMs.toFixed(0),
          modelTtftVerdict(r),
        ]),
      ),
    );
  }
  parts.push(`streaming section ${(result.elapsedMs / 1000).toFixed(1)} s`);
  return parts.join('\n');
}

/** Issue 16's target: the primary's breaker opening → the first answer from the fallback model. */
export const FALLBACK_TARGETS = { openToFallbackMs: 1000 } as const;

export function switchOverVerdict(result: FallbackResult['switchOver']): Verdict {
  if (result.openToFallbackMs === undefined) return 'MISS';
  return result.openToFallbackMs <= FALLBACK_TARGETS.openToFallbackMs ? 'PASS' : 'MISS';
}

export function fallbackReport(result: FallbackResult): string {
  const s = result.switchOver;
  const opt = (v: number | undefined) => (v === undefined ? 'never' : v.toFixed(0));
  const call = (c: SwitchCall) =>
    `${c.answeredBy}${c.error ? ` (${c.error})` : ''}, ${c.primaryRefused} primary 503s, breaker ${c.circuitAfter}`;
  const { recovery } = s;
  const parts = [
    `Fallback switch-over (issue 16): createModelClient from a worker config, primary behind the sandbox's model switch (503 when down), fallback a second local engine; both ${s.model}, one call at a time, deadline 55 s; target: breaker open → first fallback answer ≤ ${FALLBACK_TARGETS.openToFallbackMs} ms`,
    table(
      ['phase', 'calls', 'median ms', 'max ms', 'who answered, primary 503s, breaker after'],
      [
        ['healthy (primary up)', String(s.healthy.n), ms(s.healthy.medianMs), ms(s.healthy.maxMs), 'primary'],
        ...s.closedCalls.map((c, i) => [`(a) down, breaker closed #${i + 1}`, '1', ms(c.latencyMs), '', call(c)]),
        [
          '(c) breaker open',
          String(s.open.n),
          ms(s.open.medianMs),
          ms(s.open.maxMs),
          `fallback ${s.openAnsweredByFallback}/${s.open.n}, ${s.openPrimaryCalls} primary calls`,
        ],
        ...(recovery.probe
          ? [['primary up, first call after cool-down', '1', ms(recovery.probe.latencyMs), '', call(recovery.probe)]]
          : []),
      ],
    ),
    table(
      ['interval', 'ms', 'target'],
      [
        ['primary down → first fallback answer', opt(s.downToFirstFallbackMs), ''],
        ['primary down → breaker open', opt(s.downToOpenMs), ''],
        ['(b) breaker open → first fallback answer', ms(s.openToFallbackMs ?? Number.NaN), switchOverVerdict(s)],
        ['breaker cool-down (clock skipped, 250 ms steps)', opt(recovery.coolDownMs), ''],
        ['primary up → first primary answer (cool-down skipped + real)', opt(recovery.upToPrimaryMs), ''],
      ],
    ),
    '',
    `Fallback tokens/s (fallback client, streamed, ${result.throughputRequest.maxTokens} max tokens, temperature ${result.throughputRequest.temperature}; local model server in this process, 1 thread; medians after one warm-up per route)`,
    table(
      [
        'model',
        'route',
        'calls',
        'errors',
        'prompt tokens',
        'tokens',
        'TTFT ms',
        'latency ms',
        'tokens/s',
        'decode tokens/s',
      ],
      result.throughput.map((r) => [
        r.model,
        r.route === 'sagemaker' ? 'SageMaker contract' : 'OpenAI /v1/chat/completions',
        String(r.calls),
        String(r.errors),
        Number.isFinite(r.promptTokensMedian) ? String(r.promptTokensMedian) : '',
        Number.isFinite(r.completionTokensMedian) ? String(r.completionTokensMedian) : '',
        ms(r.ttftMedianMs),
        ms(r.latencyMedianMs),
        Number.isFinite(r.tokensPerSecMedian) ? r.tokensPerSecMedian.toFixed(0) : '',
        Number.isFinite(r.decodeTokensPerSecMedian) ? r.decodeTokensPerSecMedian.toFixed(0) : '',
      ]),
    ),
    ...result.throughputSkipped.map((why) => `skipped: ${why}`),
    'The fallback function’s cold start: npm run bench -- --only fallback-function',
    `fallback section ${(result.elapsedMs / 1000).toFixed(1)} s`,
  ];
  return parts.join('\n');
}

function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '';
}

/** A Markdown table, each column padded to its widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
