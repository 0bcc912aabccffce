import {
  MAX_SKILL_IMAGE_BYTES,
  MAX_SKILL_REPLY_CHARS,
  SKILL_PROTOCOL_VERSION,
  type SkillRequest,
  type SkillResponse,
  type SkillResponseImage,
} from '#core/skills/remote-protocol';
import { chartSeries, renderBarChart } from './chart';
import { DataAnalysisError, type DataAnalysisErrorCode } from './data-analysis-error';
import type { DatasetSpec } from './dataset';
import { type LoadedDataset, openDataset } from './engine';
import { formatResult } from './format-result';
import { type DataLimits, dataLimits } from './limits';
import type { QueryResult } from './query-result';
import { pickTableFile, sharedFileDataset } from './shared-file';
import { buildRetryPrompt, buildSqlPrompt, extractSql, PROMPT_SAMPLE_ROWS, type WriteSql } from './write-sql';

/**
 * The data-analysis skill (issue 17), protocol v1: members ask about an operator-registered dataset; SQL runs on a
 * locked, private DuckDB copy of that one table (`engine.ts`) and the reply is the engine's result (`format-result.ts`),
 * never numbers from the model.
 * - `/data` → the datasets, with their columns and row counts;
 * - `/data <dataset>` → that dataset's columns;
 * - `/data <dataset> <question>`, or `/data <question>` when there is one dataset → the model writes one SELECT
 *   (`write-sql.ts`); if the engine rejects it, the model gets one retry with the engine's error;
 * - `/sql <dataset> <SELECT …>` (or `/sql <SELECT …>` with one dataset) → the member's own SQL, under the same guards;
 * - anything else → `decline`.
 * A query whose result is a (label, number) pair also carries its bar chart as an image (`chartImage`), which
 * GroupGate posts under the table where the platform can; the table alone holds every number.
 * `/数据` is `/data`. The command comes from the request's `command`/`args` when GroupGate matched it by the skill's
 * `commands`, else from the text's first word. The skill sees only what protocol v1 sends (the masked text, and the
 * files shared with the message when its configuration says `acceptsFiles`).
 *
 * A CSV or XLSX file shared with the command (`request.files`) is the one table instead of the registered datasets,
 * named after the file (`sales.csv` → `sales`: `shared-file.ts`), with the same engine, limits and guards; a shared
 * file that is not a table is answered with what the skill reads.
 *
 * Every failure the member can act on (unknown dataset, SQL refused or failing, time or memory limits, a dataset file
 * that is not a CSV, the model unavailable) is an `answer` saying so: the member asked this skill by command, and a
 * model answer would guess the numbers. An unexpected fault is reported to `onInternalError` and the skill
 * declines, so the question still reaches the model and is never lost.
 */

export const DATA_COMMANDS = ['/data', '/数据'] as const;
export const SQL_COMMANDS = ['/sql'] as const;

/** Engine errors the model gets its one retry for: the query's form or content was wrong, not the member's ask. */
const RETRIED: ReadonlySet<DataAnalysisErrorCode> = new Set([
  'sql_error',
  'no_sql',
  'not_select',
  'multiple_statements',
]);
/** Time kept back from the request's deadline for the reply to travel back, ms. */
const DEADLINE_MARGIN_MS = 250;
/** The shortest load or query time granted, however little of the deadline is left, ms. */
const MIN_STEP_MS = 100;

export interface DataSkillDeps {
  readonly datasets: readonly DatasetSpec[];
  readonly writeSql: WriteSql;
  readonly limits?: Partial<DataLimits>;
  /** Told about an unexpected fault just before the skill declines (for logs). */
  readonly onInternalError?: (error: unknown) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

type Command = { readonly kind: 'data' | 'sql'; readonly args: string };

const fold = (word: string): string => word.normalize('NFKC').toLowerCase().trim();

/** The data or SQL command and its arguments (case kept: SQL string literals are case-sensitive). */
export function commandOf(request: SkillRequest): Command | undefined {
  const kindOf = (word: string): Command['kind'] | undefined => {
    const folded = fold(word);
    if ((DATA_COMMANDS as readonly string[]).includes(folded)) return 'data';
    if ((SQL_COMMANDS as readonly string[]).includes(folded)) return 'sql';
    return undefined;
  };
  if (request.command !== undefined) {
    const kind = kindOf(request.command);
    return kind === undefined ? undefined : { kind, args: (request.args ?? '').trim() };
  }
  const text = request.text.trim();
  const [word = ''] = text.split(/\s/u, 1);
  const kind = kindOf(word);
  return kind === undefined ? undefined : { kind, args: text.slice(word.length).trim() };
}

/** What the data skill answers to a valid v1 request. */
export async function answerDataRequest(request: SkillRequest, deps: DataSkillDeps): Promise<SkillResponse> {
  const version = SKILL_PROTOCOL_VERSION;
  const command = commandOf(request);
  if (command === undefined) return { version, action: 'decline' };
  const now = deps.now ?? Date.now;
  const budget = budgetFor(deps.limits, now() + request.deadlineMs - DEADLINE_MARGIN_MS, now);
  // A file shared with the question is the table, in place of the registered datasets.
  let datasets = deps.datasets;
  if (request.files !== undefined && request.files.length > 0) {
    const picked = pickTableFile(request.files);
    if ('refused' in picked) return { version, action: 'answer', reply: clip(picked.refused) };
    datasets = [sharedFileDataset(picked, () => budget.limits())];
  }
  try {
    const answered = await answerCommand(command, { ...deps, datasets }, budget);
    if (typeof answered === 'string') return { version, action: 'answer', reply: clip(answered) };
    const chart = chartImage(answered.result);
    return { version, action: 'answer', reply: clip(answered.reply), ...(chart ? { images: [chart] } : {}) };
  } catch (error) {
    if (error instanceof DataAnalysisError) return { version, action: 'answer', reply: clip(error.message) };
    deps.onInternalError?.(error);
    return { version, action: 'decline' };
  }
}

/**
 * What is left of the request's time, for each step: the model's signal fires at the deadline, and every load and
 * query gets at most the time left (never less than `MIN_STEP_MS`, so a late step fails fast as a timeout), so the
 * skill answers "took too long" itself before GroupGate stops waiting.
 */
interface Budget {
  readonly signal: AbortSignal;
  remainingMs(): number;
  /** The limits with the load and query times cut to what is left now. */
  limits(): DataLimits;
}

function budgetFor(configured: Partial<DataLimits> | undefined, deadlineAt: number, now: () => number): Budget {
  const base = dataLimits(configured);
  const remainingMs = () => deadlineAt - now();
  const within = (ms: number) => Math.max(MIN_STEP_MS, Math.min(ms, remainingMs()));
  return {
    signal: AbortSignal.timeout(Math.max(1, remainingMs())),
    remainingMs,
    limits: () => ({ ...base, queryTimeMs: within(base.queryTimeMs), loadTimeMs: within(base.loadTimeMs) }),
  };
}

/** A query's answer: the reply built from the result, and the result itself (for its chart). */
interface QueryAnswer {
  readonly reply: string;
  readonly result: QueryResult;
}

/**
 * The bar chart of a (label, number) result (`chartSeries`) as a protocol v1 image, or undefined when the result is
 * not such a pair or its PNG would be over the protocol's image limit. Labels are not drawn: the table above it names
 * every bar, in the same order.
 */
export function chartImage(result: QueryResult): SkillResponseImage | undefined {
  const series = chartSeries(result);
  if (!series) return undefined;
  const png = renderBarChart(series.values);
  if (png.byteLength > MAX_SKILL_IMAGE_BYTES) return undefined;
  const [label, value] = result.columns.map((column) => clipText(column.name, 60));
  const bars = series.values.length;
  return {
    mediaType: 'image/png',
    data: Buffer.from(png).toString('base64'),
    alt: `Bar chart of ${value} by ${label}, ${bars} bar${bars === 1 ? '' : 's'} in the table's order`,
  };
}

function clipText(text: string, max: number): string {
  const line = text.replace(/\s+/gu, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

async function answerCommand(command: Command, deps: DataSkillDeps, budget: Budget): Promise<string | QueryAnswer> {
  const { datasets } = deps;
  if (datasets.length === 0) return 'No datasets are registered for this skill yet: ask the operator to add one.';
  if (command.args === '') {
    return command.kind === 'data' ? listDatasets(deps, budget) : `Usage: ${usage(command.kind, datasets)}`;
  }
  const picked = pickDataset(command.args, datasets);
  if (picked === undefined) return unknownDataset(command, datasets);
  const { spec, rest } = picked;
  if (rest === '') {
    return command.kind === 'data'
      ? withDataset(spec, budget.limits(), async (loaded) => describeDataset(spec, loaded))
      : `Usage: ${usage('sql', datasets)}`;
  }
  if (command.kind === 'sql') {
    return withDataset(spec, budget.limits(), async (loaded) => {
      const result = await loaded.query(rest, { timeMs: budget.limits().queryTimeMs });
      return { reply: formatResult({ table: loaded.table, sql: rest, result }), result };
    });
  }
  return withDataset(spec, budget.limits(), (loaded) => answerQuestion(spec, loaded, rest, deps, budget));
}

/** The model writes the SQL; one retry with the engine's error when it fails in a way the model can fix. */
async function answerQuestion(
  spec: DatasetSpec,
  loaded: LoadedDataset,
  question: string,
  deps: DataSkillDeps,
  budget: Budget,
): Promise<QueryAnswer> {
  const sample = await loaded.query(`SELECT * FROM ${loaded.table} LIMIT ${PROMPT_SAMPLE_ROWS}`, {
    timeMs: budget.limits().queryTimeMs,
  });
  const messages = buildSqlPrompt(
    {
      table: loaded.table,
      title: spec.title,
      ...(spec.description ? { description: spec.description } : {}),
      columns: loaded.columns,
      rowCount: loaded.rowCount,
      sampleRows: sample.rows,
    },
    question,
  );
  const first = await attempt(messages);
  if (first.ok) return { reply: formatResult({ ...first, table: loaded.table }), result: first.result };
  if (!RETRIED.has(first.error.code)) throw failedQuery(first.error, first.sql);
  const second = await attempt(buildRetryPrompt(messages, first.modelReply, first.error.message));
  if (second.ok) return { reply: formatResult({ ...second, table: loaded.table }), result: second.result };
  throw failedQuery(second.error, second.sql, 'The model’s SQL failed twice. ');

  async function attempt(prompt: Parameters<WriteSql>[0]): Promise<Attempt> {
    let modelReply: string;
    try {
      modelReply = await deps.writeSql(prompt, budget.signal);
    } catch (cause) {
      const yourself = `You can write it yourself: ${usage('sql', deps.datasets)}`;
      if (budget.signal.aborted) {
        throw new DataAnalysisError('timeout', `The model took too long to write the SQL. ${yourself}`, { cause });
      }
      throw new DataAnalysisError('unavailable', `The model could not write the SQL just now. ${yourself}`, { cause });
    }
    let sql: string | undefined;
    try {
      sql = extractSql(modelReply);
      return { ok: true, sql, result: await loaded.query(sql, { timeMs: budget.limits().queryTimeMs }) };
    } catch (error) {
      if (!(error instanceof DataAnalysisError)) throw error;
      return { ok: false, error, modelReply, ...(sql === undefined ? {} : { sql }) };
    }
  }
}

type Attempt =
  | { readonly ok: true; readonly sql: string; readonly result: QueryResult }
  | { readonly ok: false; readonly error: DataAnalysisError; readonly modelReply: string; readonly sql?: string };

/** The engine's error with the SQL that caused it, so the member can see what was tried. */
function failedQuery(error: DataAnalysisError, sql: string | undefined, prefix = ''): DataAnalysisError {
  const shown = sql === undefined ? '' : `\n\n\`\`\`sql\n${sql.replaceAll('```', '` ` `')}\n\`\`\``;
  return new DataAnalysisError(error.code, `${prefix}${error.message}${shown}`, { cause: error });
}

async function withDataset<T>(
  spec: DatasetSpec,
  limits: DataLimits,
  work: (loaded: LoadedDataset) => Promise<T>,
): Promise<T> {
  const shownAs = spec.shownAs ?? `Dataset ${spec.name}`;
  const bytes = await spec.load(limits.maxCsvBytes).catch((error: unknown) => {
    if (error instanceof DataAnalysisError) throw error;
    throw new DataAnalysisError('unavailable', `${shownAs} could not be read just now; try again later.`, {
      cause: error,
    });
  });
  const loaded = await openDataset({ table: spec.name, bytes, limits }).catch((error: unknown) => {
    if (error instanceof DataAnalysisError) {
      throw new DataAnalysisError(error.code, `${shownAs} cannot be used. ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  });
  try {
    return await work(loaded);
  } finally {
    loaded.close();
  }
}

/** The dataset named by the first word, with the rest; or the only dataset with all of `args`. */
function pickDataset(
  args: string,
  datasets: readonly DatasetSpec[],
): { readonly spec: DatasetSpec; readonly rest: string } | undefined {
  const [word = ''] = args.split(/\s/u, 1);
  const named = datasets.find((spec) => spec.name === fold(word));
  if (named) return { spec: named, rest: args.slice(word.length).trim() };
  const [only, ...others] = datasets;
  return only !== undefined && others.length === 0 ? { spec: only, rest: args } : undefined;
}

function unknownDataset(command: Command, datasets: readonly DatasetSpec[]): string {
  const [word = ''] = command.args.split(/\s/u, 1);
  const echoed = word.length > 40 ? `${word.slice(0, 40)}…` : word;
  return [
    `There is no dataset named “${echoed}”. Start with the dataset's name: ${usage(command.kind, datasets)}`,
    `Datasets: ${datasets.map((spec) => `${spec.name} (${spec.title})`).join(', ')}.`,
  ].join('\n');
}

function usage(kind: Command['kind'], datasets: readonly DatasetSpec[]): string {
  const example = datasets[0]?.name ?? 'dataset';
  return kind === 'data'
    ? `/data ${example} <your question>, or /data for the list.`
    : `/sql ${example} SELECT … FROM ${example} …`;
}

async function listDatasets(deps: DataSkillDeps, budget: Budget): Promise<string> {
  const lines = ['Datasets you can ask about (/data <dataset> <question>, or /sql <dataset> SELECT …):'];
  // One at a time: each is a whole engine with its own memory limit.
  for (const spec of deps.datasets) {
    if (budget.remainingMs() < MIN_STEP_MS) {
      lines.push(`• ${spec.name} — ${spec.title} (not described: out of time; ask /data ${spec.name})`);
      continue;
    }
    try {
      lines.push(await withDataset(spec, budget.limits(), async (loaded) => datasetEntry(spec, loaded)));
    } catch (error) {
      if (!(error instanceof DataAnalysisError)) throw error;
      lines.push(`• ${spec.title}: ${error.message}`);
    }
  }
  return lines.join('\n');
}

function describeDataset(spec: DatasetSpec, loaded: LoadedDataset): string {
  return `${datasetEntry(spec, loaded)}\nAsk: /data ${spec.name} <your question>, or /sql ${spec.name} SELECT … FROM ${spec.name} …`;
}

function datasetEntry(spec: DatasetSpec, loaded: LoadedDataset): string {
  const about = spec.description ? `: ${spec.description}` : '';
  const columns = loaded.columns.map((c) => `${c.name} ${c.type}`).join(', ');
  return `• ${spec.name} — ${spec.title} (${loaded.rowCount.toLocaleString('en-US')} rows)${about}\n  columns: ${columns}`;
}

function clip(reply: string): string {
  return reply.length > MAX_SKILL_REPLY_CHARS ? `${reply.slice(0, MAX_SKILL_REPLY_CHARS - 1)}…` : reply;
}
