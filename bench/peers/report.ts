import type { BundleRow } from '../bundle-bench';
import { TARGETS, type Verdict } from '../report';
import type { WebhookRow } from '../webhook-bench';
import type { SecurityCheck } from './checks';
import type { ColdStartRow } from './cold-start';
import { ratio } from './measure';
import type { ModelPeerResult } from './model-peer';
import type { PeerComparison } from './types';

/** GroupGate's whole webhook with a conditional write to dynalite and a send to fauxqs, from this run's series. */
export interface ReferenceRow {
  readonly platform: 'slack' | 'feishu';
  readonly groupgateMedianMs: number;
  readonly groupgateP99Ms: number;
}

export function referenceRows(webhook: readonly WebhookRow[]): ReferenceRow[] {
  return (['slack', 'feishu'] as const).flatMap((platform) => {
    const fresh = webhook.find((w) => w.platform === platform && w.path === 'fresh' && w.n > 0);
    return fresh ? [{ platform, groupgateMedianMs: fresh.medianMs, groupgateP99Ms: fresh.p99Ms }] : [];
  });
}

export function webhookPeerTable(comparisons: readonly PeerComparison[], references: readonly ReferenceRow[]): string {
  const rows = comparisons.map((c) => {
    const r = c.result;
    if (!r) return [c.platform, c.path, c.peer, '', '', '', '', '', '', '', c.error ?? ''];
    return [
      c.platform,
      c.path,
      c.peer,
      `${r.groupgate.n}${r.truncated ? '*' : ''}`,
      ms3(r.groupgate.medianMs),
      ms3(r.peer.medianMs),
      times(ratio(r.groupgate.medianMs, r.peer.medianMs)),
      ms3(r.groupgate.p99Ms),
      ms3(r.peer.p99Ms),
      times(ratio(r.groupgate.p99Ms, r.peer.p99Ms)),
      r.groupgate.refused + r.peer.refused > 0 ? `refused ${r.groupgate.refused}/${r.peer.refused}` : '',
    ];
  });
  // No ratio: GroupGate's figure includes a conditional write and a send to local stand-ins, the peer's no I/O.
  for (const r of references) {
    rows.push([
      r.platform,
      'handler + dynalite/fauxqs',
      '(reference, no peer equivalent)',
      '',
      ms3(r.groupgateMedianMs),
      '',
      '',
      ms3(r.groupgateP99Ms),
      '',
      '',
      "this run's webhook fresh series",
    ]);
  }
  return table(
    [
      'platform',
      'path',
      'peer',
      'n',
      'GG median ms',
      'peer median ms',
      'median GG/peer',
      'GG p99 ms',
      'peer p99 ms',
      'p99 GG/peer',
      'note',
    ],
    rows,
  );
}

export function checksTable(checks: readonly SecurityCheck[]): string {
  const mark = (o: string, secure: string): string => (o === secure ? o : `${o} (!)`);
  return table(
    ['platform', 'crafted request', 'secure answer', 'GroupGate', 'peer'],
    checks.map((c) => [c.platform, c.check, c.secure, mark(c.groupgate, c.secure), mark(c.peer, c.secure)]),
  );
}

/**
 * The webhook's cold-start budgets (issue 22): module init at most `TARGETS.webhookInitMs` and at most
 * `TARGETS.webhookInitPeerRatio` × each minimal peer Lambda's, measured in the same rounds.
 */
export function webhookInitVerdict(rows: readonly ColdStartRow[]): Verdict {
  const init = rows.find((r) => r.name === 'webhook')?.initMedianMs;
  const peers = rows.filter((r) => r.kind === 'peer').map((r) => r.initMedianMs);
  if (init === undefined || peers.length === 0 || peers.some((p) => p === undefined)) return 'n/a';
  const withinPeers = peers.every((p) => (ratio(init, p) ?? Number.POSITIVE_INFINITY) <= TARGETS.webhookInitPeerRatio);
  return init <= TARGETS.webhookInitMs && withinPeers ? 'PASS' : 'MISS';
}

/**
 * GroupGate rows: sizes, init and requests from the interleaved rounds; the `fully-bundled` size and any placeholder
 * flag come from bundle-bench's rows of the same run, and a size that differs from its `sdk-external` build is
 * flagged. "cold → 1st answer" is init + first request, per round: what the first event after a cold start waits for
 * beyond Lambda's own runtime start (GroupGate's includes two round trips to dynalite/fauxqs; the peers do no I/O).
 */
export function coldStartTable(rows: readonly ColdStartRow[], bundleBench: readonly BundleRow[]): string {
  const bolt = rows.find((r) => r.name === 'bolt');
  const lark = rows.find((r) => r.name === 'lark');
  const verdict = webhookInitVerdict(rows);
  return table(
    [
      'bundle',
      'size KB',
      'init ms',
      '1st request ms',
      'warm request ms',
      'cold → 1st answer ms',
      'init ÷ Bolt',
      'init ÷ Lark',
      'cold→answer ÷ Bolt',
      'cold→answer ÷ Lark',
      'fully-bundled KB',
      'budget',
      'note',
    ],
    rows.map((r) => {
      const external = bundleBench.find((b) => b.entry === r.name && b.variant === 'sdk-external');
      const full = bundleBench.find((b) => b.entry === r.name && b.variant === 'fully-bundled');
      const peer = r.kind === 'peer';
      const note = peer
        ? (r.topInputs ?? []).map((i) => `${i.name} ${(i.bytes / 1024).toFixed(0)} KB`).join(', ')
        : [
            external?.placeholder ? 'PLACEHOLDER entry' : '',
            external?.bytes !== undefined && r.bytes !== undefined && external.bytes !== r.bytes
              ? `bundle-bench built ${kb(external.bytes)} KB`
              : '',
          ]
            .filter(Boolean)
            .join('; ');
      return [
        r.label,
        kb(r.bytes),
        r.initMedianMs === undefined ? '' : ms1(r.initMedianMs),
        r.firstRequestMedianMs === undefined ? '' : ms1(r.firstRequestMedianMs),
        r.warmRequestMedianMs === undefined ? '' : ms1(r.warmRequestMedianMs),
        r.coldToFirstAnswerMedianMs === undefined ? '' : ms1(r.coldToFirstAnswerMedianMs),
        peer ? '' : times(ratio(r.initMedianMs, bolt?.initMedianMs)),
        peer ? '' : times(ratio(r.initMedianMs, lark?.initMedianMs)),
        peer ? '' : times(ratio(r.coldToFirstAnswerMedianMs, bolt?.coldToFirstAnswerMedianMs)),
        peer ? '' : times(ratio(r.coldToFirstAnswerMedianMs, lark?.coldToFirstAnswerMedianMs)),
        kb(full?.bytes),
        r.name === 'webhook' ? verdict : '',
        [r.error ?? '', note].filter(Boolean).join('; '),
      ];
    }),
  );
}

export function modelTable(model: ModelPeerResult): string {
  const direct = model.rows.find((r) => r.path === 'node-llama-cpp direct');
  const body = table(
    [
      'path',
      'runs',
      'tokens',
      'median ms',
      'min ms',
      'max ms',
      'tokens/s median',
      'ratio to direct',
      'tokens/s best run',
      'ratio to direct',
    ],
    model.rows.map((r) => [
      r.path,
      String(r.n),
      String(r.completionTokens),
      ms1(r.medianMs),
      ms1(Math.min(...r.runs.map((run) => run.ms))),
      ms1(r.maxMs),
      r.tokensPerSec.toFixed(0),
      r === direct ? '' : times(ratio(r.tokensPerSec, direct?.tokensPerSec)),
      r.bestTokensPerSec.toFixed(0),
      r === direct ? '' : times(ratio(r.bestTokensPerSec, direct?.bestTokensPerSec)),
    ]),
  );
  const notes = [
    `model: ${model.modelNote}`,
    model.sameOutput === undefined ? '' : `same text on every path: ${model.sameOutput ? 'yes' : 'NO'}`,
    model.error ? `error: ${model.error}` : '',
  ].filter(Boolean);
  return `${body}\n${notes.join('; ')}`;
}

const ms3 = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : '');
const ms1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '');
const kb = (bytes: number | undefined): string => (bytes === undefined ? '' : (bytes / 1024).toFixed(1));
const times = (r: number | undefined): string => (r === undefined ? '' : `${r.toFixed(2)}×`);

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
