import type { BundleRow } from './bundle-bench';
import type { WebhookRow } from './webhook-bench';

/** Targets from the issue: in-process handler latency and the webhook bundle size. */
export const TARGETS = { medianMs: 5, p99Ms: 20, webhookBundleKb: 250 } as const;

export type Verdict = 'PASS' | 'MISS' | 'n/a';

export function latencyVerdict(row: WebhookRow): Verdict {
  if (row.n === 0) return 'n/a';
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

/** A duplicate of an already-enqueued event should cost one conditional write and no send; explains when it did not. */
export function duplicateNote(rows: readonly WebhookRow[]): string {
  const resent = rows.filter((r) => r.path === 'duplicate' && (r.sends ?? 0) > 0);
  if (resent.length === 0) return '';
  return `note: duplicate rows re-sent (${resent.map((r) => `${r.platform} ${r.sends}/${r.n}`).join(', ')}): the events table returned no old item on ConditionalCheckFailed (dynalite ignores ReturnValuesOnConditionCheckFailure), so ingest took each for an unfinished 'enqueuing' delivery and re-sent (collapsed by FIFO dedup). Against real DynamoDB a duplicate is one conditional write.`;
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

function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '';
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
