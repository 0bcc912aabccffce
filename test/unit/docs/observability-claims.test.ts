import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { METRIC } from '#shared/metrics';
import { codeBlocks, codeSpans, proseUnits, section, tableHeaded } from './doc-scan';
import { allDocs, ROOT, readRepoFile, sourceFiles } from './repo-files';

/**
 * The guides' statements about GroupGate's metrics and logs, held to the code: the metric table in OPERATIONS §5 is
 * exactly the metrics `functions/shared/metrics.ts` defines, each published by the handlers it names (reachable from
 * them), every handler that flushes metrics is named, and every log message a Logs Insights query or a runbook
 * filters on is one the code writes.
 */

const DOCS = allDocs();
const METRICS_MODULE = 'functions/shared/metrics.ts';
const HANDLERS = readdirSync(join(ROOT, 'functions/handlers')).map((file) => file.replace(/\.ts$/, ''));

/** The `functions/` file an import specifier names (`#core/x`, `./y`), or undefined outside `functions/`. */
function resolveImport(from: string, specifier: string): string | undefined {
  const alias = /^#(\w+)\/(.+)$/.exec(specifier);
  const base = alias
    ? `functions/${alias[1]}/${alias[2]}`
    : specifier.startsWith('.')
      ? join(from, '..', specifier)
      : undefined;
  if (base === undefined) return undefined;
  return [`${base}.ts`, `${base}/index.ts`].find((candidate) => existsSync(join(ROOT, candidate)));
}

/** Every `functions/` file a module loads at run time (value imports, followed transitively). */
function runtimeClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readRepoFile(file);
    const specifiers = [
      ...source.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+'([^']+)'/gm),
      ...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
    ].map((m) => m[1] ?? '');
    for (const specifier of specifiers) {
      const target = resolveImport(file, specifier);
      if (target) visit(target);
    }
  };
  visit(entry);
  return seen;
}

const metricByKey = METRIC as Readonly<Record<string, string>>;
const metricsNamedIn = (code: string): string[] =>
  [...code.matchAll(/\bMETRIC\.(\w+)/g)].flatMap((m) => metricByKey[m[1] ?? ''] ?? []);

/** The metrics each exported function of the metrics module publishes itself (`recordOutcome` → ModelLatencyMs, …). */
function metricHelpers(): Map<string, string[]> {
  const source = readRepoFile(METRICS_MODULE);
  const helpers = new Map<string, string[]>();
  const starts = [...source.matchAll(/^export function (\w+)\(/gm)];
  starts.forEach((m, i) => {
    const body = source.slice(m.index, starts[i + 1]?.index ?? source.length);
    helpers.set(m[1] ?? '', metricsNamedIn(body));
  });
  return helpers;
}

/** The metrics each handler can publish: named in any file it loads, directly or through a metrics-module helper. */
function reachableMetrics(): Map<string, Set<string>> {
  const helpers = metricHelpers();
  return new Map(
    HANDLERS.map((handler) => {
      const files = [...runtimeClosure(`functions/handlers/${handler}.ts`)].filter((f) => f !== METRICS_MODULE);
      const names = files.flatMap((file) => {
        const code = readRepoFile(file);
        const viaHelpers = [...helpers].flatMap(([fn, metrics]) =>
          new RegExp(`\\b${fn}\\(`).test(code) ? metrics : [],
        );
        return [...metricsNamedIn(code), ...viaHelpers];
      });
      return [handler, new Set(names)];
    }),
  );
}

/** Handlers that flush metrics to CloudWatch (Powertools' middy middleware or an explicit publish). */
const flushingHandlers = HANDLERS.filter((h) =>
  /\blogMetrics\(|\bpublishStoredMetrics\(/.test(readRepoFile(`functions/handlers/${h}.ts`)),
);

function documentedMetrics(): { metric: string; publishers: string[] }[] {
  const table = tableHeaded(section(readRepoFile('docs/OPERATIONS.md'), '5.'), 'metric');
  const column = table.header.findIndex((cell) => /published by/i.test(cell));
  if (column < 0) throw new Error('the metric table needs a "published by" column');
  return table.rows.map((cells) => ({
    metric: codeSpans(cells[0] ?? '').join(' '),
    publishers: (cells[column] ?? '').split(/,\s*|\s+and\s+/).map((p) => p.replace(/`/g, '').trim()),
  }));
}

describe('docs ↔ GroupGate metrics', () => {
  const reachable = reachableMetrics();

  test('the import walk finds the metrics (the scan is not vacuous)', () => {
    expect(reachable.get('webhook')).toContain(METRIC.webhookRejected);
    expect(reachable.get('worker')).toContain(METRIC.timeToFirstVisibleTextMs);
    expect(flushingHandlers.length).toBeGreaterThan(2);
  });

  test('every metric the code defines is published by some handler', () => {
    const published = new Set([...reachable].filter(([h]) => flushingHandlers.includes(h)).flatMap(([, m]) => [...m]));
    expect(Object.values(METRIC).filter((name) => !published.has(name))).toEqual([]);
  });

  test('the OPERATIONS §5 metric table lists every metric once, and nothing else', () => {
    const documented = documentedMetrics().map((row) => row.metric);
    expect(new Set(documented).size).toBe(documented.length);
    expect(new Set(documented)).toEqual(new Set(Object.values(METRIC)));
  });

  test('each metric is published by the handlers the table names (they flush metrics and reach it)', () => {
    const wrong = documentedMetrics().flatMap(({ metric, publishers }) =>
      publishers
        .filter((h) => !flushingHandlers.includes(h) || !reachable.get(h)?.has(metric))
        .map((handler) => ({ metric, handler })),
    );
    expect(wrong).toEqual([]);
  });

  test('every handler that publishes metrics is named as a publisher', () => {
    const named = new Set(documentedMetrics().flatMap((row) => row.publishers));
    const publishing = flushingHandlers.filter((h) => (reachable.get(h)?.size ?? 0) > 0);
    expect(publishing.filter((h) => !named.has(h))).toEqual([]);
  });

  test('no guide says the handlers do not publish metrics', () => {
    const denial =
      /\bno (?:handler|function)s? (?:publishes|emits)\b|\bnot (?:yet )?(?:instrumented|published|emitted)\b/i;
    const claims = DOCS.flatMap((doc) =>
      proseUnits(readRepoFile(doc))
        .filter((unit) => denial.test(unit) && /metric|widget|alarm/i.test(unit))
        .map((unit) => ({ doc, claim: unit.slice(0, 160) })),
    );
    expect(claims).toEqual([]);
  });
});

/** Literal messages a file logs (`logger.info('…')`, `log.error('…')`). */
const messagesLoggedIn = (file: string): string[] =>
  [...readRepoFile(file).matchAll(/\b(?:logger|log)\.(?:debug|info|warn|error)\(\s*'([^']+)'/g)].map((m) => m[1] ?? '');

/** Messages a Logs Insights query filters on: `message = "…"` and `message in ["…", …]`. */
const queriedMessages = (query: string): string[] => [
  ...[...query.matchAll(/\bmessage\s*=\s*"([^"]+)"/g)].map((m) => m[1] ?? ''),
  ...[...query.matchAll(/\bmessage\s+in\s+\[([^\]]+)\]/g)].flatMap((m) =>
    [...(m[1] ?? '').matchAll(/"([^"]+)"/g)].map((q) => q[1] ?? ''),
  ),
];

/**
 * Each code block with the function whose log group it queries: the last `Functions<Name>Logs` named in the block or
 * in the prose just before it (`Worker log group (\`FunctionsWorkerLogs…\`):`), as a handler name (`chat-api`).
 */
function queriesByFunction(markdown: string): { handler: string | undefined; block: string }[] {
  const blocks: { handler: string | undefined; block: string }[] = [];
  let previousEnd = 0;
  for (const m of markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```[ \t]*$/gm)) {
    const context = markdown.slice(previousEnd, m.index) + (m[1] ?? '');
    const group = [...context.matchAll(/\bFunctions(\w+?)Logs/g)].pop()?.[1];
    const handler = group?.replace(/(?<=[a-z])(?=[A-Z])/g, '-').toLowerCase();
    blocks.push({ handler, block: m[1] ?? '' });
    previousEnd = (m.index ?? 0) + m[0].length;
  }
  return blocks;
}

describe('docs ↔ log messages', () => {
  const logged = new Set(sourceFiles('functions').flatMap(messagesLoggedIn));

  /** Messages the guides filter or search on: in Logs Insights queries, and log lines quoted in prose. */
  const searched = DOCS.flatMap((doc) => {
    const text = readRepoFile(doc);
    const inQueries = codeBlocks(text).flatMap(queriedMessages);
    const inProse = proseUnits(text).flatMap((unit) =>
      [...unit.matchAll(/\blog(?:ged as| line| message)\s+`([^`]+)`/g)].map((m) => m[1] ?? ''),
    );
    return [...inQueries, ...inProse].map((message) => ({ doc, message }));
  });

  test('the scans find messages on both sides', () => {
    expect(logged).toContain('invocation recorded');
    expect(searched.length).toBeGreaterThan(5);
  });

  test('every message a guide searches for is one the code logs', () => {
    expect(searched.filter(({ message }) => !logged.has(message))).toEqual([]);
  });

  test("a query on one function's log group looks for messages that function logs", () => {
    const queries = DOCS.flatMap((doc) =>
      queriesByFunction(readRepoFile(doc)).flatMap(({ handler, block }) =>
        handler && HANDLERS.includes(handler)
          ? queriedMessages(block).map((message) => ({ doc, handler, message }))
          : [],
      ),
    );
    expect(queries.map((q) => q.handler)).toEqual(expect.arrayContaining(['webhook', 'worker']));
    const byHandler = new Map(
      HANDLERS.map((h) => [h, new Set([...runtimeClosure(`functions/handlers/${h}.ts`)].flatMap(messagesLoggedIn))]),
    );
    expect(queries.filter(({ handler, message }) => !byHandler.get(handler)?.has(message))).toEqual([]);
  });
});
