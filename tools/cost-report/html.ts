import { COST_COMPONENTS, type CostComponent } from '#core/cost/cost-model';
import {
  type CostReport,
  connectorText,
  type DayCost,
  type ReportLine,
  runningWindowText,
  scaleToZeroText,
} from './build';
import { formatMicroUsd, formatNano, MICRO_USD, perInvocationNano } from './money';

/** A chart series: one stacked segment per day. */
interface Series {
  readonly name: string;
  readonly color: string;
  readonly value: (day: DayCost) => number;
}

const COMPONENT_LABEL: Readonly<Record<CostComponent, string>> = {
  sagemaker: 'SageMaker (busy)',
  lambda: 'Lambda',
  apiGateway: 'API Gateway',
  sqs: 'SQS',
  dynamodb: 'DynamoDB',
  logs: 'CloudWatch Logs',
  voice: 'Voice (Transcribe, Polly)',
};

const COMPONENT_COLOR: Readonly<Record<CostComponent, string>> = {
  sagemaker: '#1f6feb',
  lambda: '#e8912d',
  apiGateway: '#8957e5',
  sqs: '#2da44e',
  dynamodb: '#cf222e',
  logs: '#6e7781',
  voice: '#bf8700',
};
const IDLE_COLOR = '#a5c8ff';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function usd(nano: number, digits = 2): string {
  return `$${formatNano(nano, digits)}`;
}

/** Round tick step (1, 2 or 5 × 10^k) giving about five gridlines up to `max`. */
export function tickStep(max: number): number {
  if (!(max > 0)) return 1;
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return step ?? 10 * magnitude;
}

/** Inline SVG stacked column chart, one column per day; amounts are nano-dollars, axis in USD. */
function stackedDays(days: readonly DayCost[], series: readonly Series[], title: string, id: string): string {
  const width = 960;
  const height = 300;
  const left = 72;
  const right = 16;
  const top = 16;
  const bottom = 40;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const totals = days.map((d) => series.reduce((t, s) => t + Math.max(0, s.value(d)), 0));
  const step = tickStep(Math.max(0, ...totals) / 1e9);
  const max = Math.max(step, Math.ceil(Math.max(0, ...totals) / 1e9 / step) * step);
  const y = (usdValue: number) => top + plotH - (usdValue / max) * plotH;
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, slot * 0.72);
  const digits = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step)));

  const grid: string[] = [];
  for (let v = 0; v <= max + step / 2; v += step) {
    grid.push(
      `<line x1="${left}" x2="${width - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`,
      `<text x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="axis">$${v.toFixed(digits)}</text>`,
    );
  }
  const labelEvery = Math.ceil(days.length / 16);
  const bars = days.map((d, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let base = 0;
    const rects = series.map((s) => {
      const value = Math.max(0, s.value(d)) / 1e9;
      const y0 = y(base + value);
      const h = y(base) - y0;
      base += value;
      return `<rect x="${x.toFixed(1)}" y="${y0.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(2)}" fill="${s.color}"><title>${d.day} ${escapeHtml(s.name)}: ${usd(s.value(d), 4)}</title></rect>`;
    });
    const label =
      i % labelEvery === 0
        ? `<text x="${(x + barW / 2).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle" class="axis">${d.day.slice(5)}</text>`
        : '';
    return `<g>${rects.join('')}${label}</g>`;
  });
  const legend = series
    .map((s) => `<span class="key"><i style="background:${s.color}"></i>${escapeHtml(s.name)}</span>`)
    .join('');
  return `<figure id="${id}"><figcaption>${escapeHtml(title)}</figcaption>
<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">
${grid.join('\n')}
${bars.join('\n')}
<line x1="${left}" x2="${width - right}" y1="${y(0)}" y2="${y(0)}" class="baseline"/>
</svg><div class="legend">${legend}</div></figure>`;
}

/** Horizontal bars of the top groups: marginal part dark, idle share light. */
function topGroupsChart(groups: readonly ReportLine[]): string {
  const max = Math.max(1, ...groups.map((g) => Math.max(g.amortisedNanoUsd, g.marginalNanoUsd)));
  const rows = groups.map((g) => {
    const marginal = (Math.max(0, Math.min(g.marginalNanoUsd, g.amortisedNanoUsd)) / max) * 100;
    const idle = (Math.max(0, g.idleShareNanoUsd) / max) * 100;
    return `<div class="bar-row"><div class="bar-label" title="${escapeHtml(g.key)}">${escapeHtml(g.key)}</div>
<div class="bar-track"><span class="bar marginal" style="width:${marginal.toFixed(2)}%"></span><span class="bar idle" style="width:${idle.toFixed(2)}%"></span></div>
<div class="bar-value">${usd(g.amortisedNanoUsd)} <small>${g.invocations} calls</small></div></div>`;
  });
  return `<figure id="top-groups"><figcaption>Top ${groups.length} groups by amortised cost</figcaption>${rows.join('\n')}
<div class="legend"><span class="key"><i style="background:${COMPONENT_COLOR.sagemaker}"></i>marginal (what their calls used)</span><span class="key"><i style="background:${IDLE_COLOR}"></i>share of idle endpoint time</span></div></figure>`;
}

/** Amortised cost per invocation in µUSD: the table's per-call column and the headline tile, one definition. */
function amortisedPerCall(line: ReportLine): string {
  const nano = perInvocationNano(line.amortisedNanoUsd, line.invocations);
  return nano === undefined ? '–' : formatMicroUsd(nano);
}

function linesTable(report: CostReport): string {
  const money = ['marginal', 'idle share', 'amortised', 'amortised per call'].map((h) => `${h} (${MICRO_USD})`);
  const head = [report.by, 'calls', 'cached', 'backup model', 'tokens', ...money];
  const row = (l: ReportLine, tag: 'td' | 'th' = 'td') =>
    `<tr><${tag} class="key">${escapeHtml(l.key)}</${tag}>${[
      String(l.invocations),
      String(l.cachedInvocations),
      String(l.fallbackInvocations),
      l.tokens.total.toLocaleString('en-US'),
      formatMicroUsd(l.marginalNanoUsd),
      formatMicroUsd(l.idleShareNanoUsd),
      formatMicroUsd(l.amortisedNanoUsd),
      amortisedPerCall(l),
    ]
      .map((c) => `<${tag}>${c}</${tag}>`)
      .join('')}</tr>`;
  return `<table><thead><tr>${head.map((h, i) => `<th${i === 0 ? ' class="key"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>${report.lines.map((l) => row(l)).join('\n')}</tbody><tfoot>${row(report.totals, 'th')}</tfoot></table>`;
}

/**
 * A self-contained HTML page (inline CSS and SVG, no script, no external request) that finance would rather read
 * than the table: headline figures, cost per day stacked by component (with and without the endpoint), the top
 * groups, then every line of the report.
 */
export function renderHtml(report: CostReport): string {
  const t = report.totals;
  const idleTotal = t.idleShareNanoUsd + report.idleUnattributedNanoUsd;
  const endpointNano = t.componentsNanoUsd.sagemaker + idleTotal;
  const allSeries: Series[] = [
    { name: 'Endpoint idle time', color: IDLE_COLOR, value: (d) => d.idleNanoUsd },
    ...(['sagemaker', 'lambda', 'apiGateway', 'sqs', 'dynamodb', 'logs'] as const).map((c) => ({
      name: COMPONENT_LABEL[c],
      color: COMPONENT_COLOR[c],
      value: (d: DayCost) => d.componentsNanoUsd[c],
    })),
  ];
  const perCall = (nano: number) => formatMicroUsd(perInvocationNano(nano, t.invocations) ?? 0);
  const serverless = allSeries.filter((s) => s.name !== 'Endpoint idle time' && s.name !== COMPONENT_LABEL.sagemaker);
  const tiles = [
    ['Total cost', usd(report.grandTotalNanoUsd), 'amortised, incl. idle endpoint hours'],
    [
      'Invocations',
      t.invocations.toLocaleString('en-US'),
      `${t.cachedInvocations} answered from cache, ${t.fallbackInvocations} by the backup model`,
    ],
    [
      `Per invocation, amortised (${MICRO_USD})`,
      amortisedPerCall(t),
      t.invocations === 0
        ? 'no invocations'
        : "the TOTAL row's amortised per call: marginal + idle share of hours with calls. " +
          `Marginal only ${perCall(t.marginalNanoUsd)}; with idle hours without calls ${perCall(report.grandTotalNanoUsd)}`,
    ],
    [
      'Model endpoint',
      report.grandTotalNanoUsd > 0 ? `${((endpointNano / report.grandTotalNanoUsd) * 100).toFixed(2)}%` : '–',
      `${usd(idleTotal)} of it idle time`,
    ],
    ['Tokens', t.tokens.total.toLocaleString('en-US'), `${t.tokens.prompt.toLocaleString('en-US')} prompt`],
  ];
  const e = report.endpoint;
  const serverlessTotal = COST_COMPONENTS.filter((c) => c !== 'sagemaker').reduce(
    (sum, c) => sum + t.componentsNanoUsd[c],
    0,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>GroupGate cost ${escapeHtml(report.from)} – ${escapeHtml(report.to)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa;margin:0}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.sub{color:#57606a;margin:0 0 20px}
.tiles{display:grid;grid-template-columns:repeat(5,1fr);gap:12px}
.tile{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px}
.tile b{display:block;font-size:22px;margin:2px 0}.tile span,.tile small{color:#57606a;font-size:12px}
figure{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:16px 0;padding:12px 16px}
figcaption{font-weight:600;margin-bottom:8px}
.chart{width:100%;height:auto}.grid{stroke:#eaeef2}.baseline{stroke:#8c959f}.axis{font-size:11px;fill:#57606a}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin-top:6px;font-size:12px;color:#57606a}
.key i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.bar-row{display:grid;grid-template-columns:240px 1fr 150px;gap:10px;align-items:center;margin:5px 0}
.bar-label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-family:ui-monospace,monospace;font-size:12px}
.bar-track{display:flex;height:16px;background:#f6f8fa;border-radius:3px;overflow:hidden}
.bar.marginal{background:${COMPONENT_COLOR.sagemaker}}.bar.idle{background:${IDLE_COLOR}}
.bar-value{text-align:right;font-variant-numeric:tabular-nums}.bar-value small{color:#57606a}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #d0d7de;font-variant-numeric:tabular-nums}
th,td{padding:5px 8px;border-bottom:1px solid #eaeef2;text-align:right}th{background:#f6f8fa}
.key{text-align:left;font-family:ui-monospace,monospace;font-size:12px}
footer{color:#57606a;font-size:12px;margin-top:20px}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:8px;padding:10px 12px;margin:0 0 16px}
</style></head>
<body><main>
<h1>GroupGate cost report</h1>
<p class="sub">${escapeHtml(report.from)} – ${escapeHtml(report.to)} (UTC), by ${escapeHtml(report.by)} · generated ${escapeHtml(report.generatedAt)}</p>
${report.notes.map((note) => `<p class="note">${escapeHtml(note)}</p>`).join('\n')}
<section class="tiles">${tiles
    .map(([label, value, note]) => `<div class="tile"><span>${label}</span><b>${value}</b><small>${note}</small></div>`)
    .join('')}</section>
${stackedDays(report.days, allSeries, 'Cost per day, stacked by component (USD)', 'cost-per-day')}
${stackedDays(report.days, serverless, `Request path only: Lambda, API Gateway, SQS, DynamoDB, Logs (${usd(serverlessTotal, 4)} in total)`, 'serverless-per-day')}
${topGroupsChart(report.topGroups)}
<h2>By ${escapeHtml(report.by)}</h2>
${linesTable(report)}
<footer>
<p>Marginal = what each invocation used (its ledger row, price table ${escapeHtml(report.priceTableVersion)}). Amortised = marginal plus the invocation's share of the endpoint's idle instance time in the same UTC hour, split by busy time.</p>
<p>Amounts in the table are in ${MICRO_USD} (micro-dollars: 1,000,000 ${MICRO_USD} = $1), exact to the nano-dollar.</p>
<p>Endpoint assumed running: ${e.instances} × ${escapeHtml(e.instanceType)}, ${escapeHtml(runningWindowText(e))}, at $${escapeHtml(e.pricePerInstanceHourUsd)}/instance-hour (${escapeHtml(e.priceSource)}): ${report.billedInstanceHours.toFixed(2)} instance-hours, ${usd(report.endpointBillNanoUsd)}. Hours with no invocation at all: ${usd(report.idleUnattributedNanoUsd)} (in the total, in no line).</p>
${
  report.scaleToZero
    ? scaleToZeroText(report.scaleToZero, (nano) => usd(nano))
        .map((text) => `<p class="saving">${escapeHtml(text)}</p>`)
        .join('\n')
    : ''
}
${report.connector ? `<p class="connector">${escapeHtml(connectorText(report.connector, (nano) => usd(nano, 4)))}</p>` : ''}
</footer>
</main></body></html>
`;
}
