import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { DataAnalysisError, type DataAnalysisErrorCode } from './data-analysis-error';
import { checkCsv, isDatasetName } from './dataset';
import { type DataLimits, dataLimits } from './limits';
import { type LoadedDataset, type OpenDatasetOptions, openLocalDataset } from './local-engine';
import type { QueryResult, ResultColumn } from './query-result';

export type { LoadedDataset, OpenDatasetOptions } from './local-engine';
export { isBlankSql, toCell } from './local-engine';

/**
 * The data skill's engine behind a process boundary, so its time and memory limits are hard. In-process, DuckDB's
 * `interrupt()` and `memory_limit` do not stop a single expensive expression (`len(list_resize([1], 100000000))` ran
 * 77 s and 8.9 GB against 5 s and 256 MB): in the sandbox that took the whole server down, in Lambda the function.
 *
 * Each `openDataset` starts one child process, which runs the engine of local-engine.ts (its own caps, lock-down and
 * interrupt stay: they give the precise answer in the ordinary case). The parent holds the limits:
 * - time: it waits the limit plus `GRACE_MS`, then SIGKILLs the child: `timeout`;
 * - memory: the bundled child starts under an address-space bound (`ulimit -v`, through /bin/sh: an allocation past
 *   it fails inside DuckDB as "Out of Memory", or ends the child), and the parent polls its resident size every `POLL_MS`
 *   and kills it past `memory_limit + RSS_HEADROOM`: `out_of_memory`.
 * A child that ended is started again, and the dataset reloaded, by the next query: the next question works.
 *
 * The child is this very file, run with `GROUPGATE_DATA_ENGINE_CHILD=1`: under tsx (sandbox, tests) that is
 * engine.ts with tsx's loader; in the Lambda bundle (esbuild, one CommonJS file) `__filename` is the bundle itself,
 * whose copy of this module starts the child loop; the rest of the bundle only defines the handler.
 */

const CHILD_ENV = 'GROUPGATE_DATA_ENGINE_CHILD';
/** How long past its own limit the parent waits for the child's answer (its own interrupt usually comes first). */
const GRACE_MS = 500;
/** How long the child may take to start (Node, tsx, the DuckDB binary). */
const START_MS = 20_000;
const POLL_MS = 100;
const MIB = 1024 * 1024;
/**
 * Address space the child needs beyond `memory_limit` (measured on Node 22 with the esbuild bundle of
 * functions/handlers/data-skill.ts: 768 MiB cannot map libduckdb.so, 1 GiB + 256 MB fails to load the sample, 1.25 GiB
 * loads it; 1.5 GiB + 256 MB loads a 45 MB CSV and still fails `list_resize([1], 100000000)` at once). Not under tsx: its loader thread reserves WebAssembly memory (gigabytes of
 * address space) and dies under any useful bound, so there (sandbox, tests) the resident-size poll alone holds it.
 */
const ADDRESS_SPACE_BASE = 1536 * MIB;
/** Resident size allowed beyond `memory_limit` (Node and DuckDB at rest: about 110–150 MiB). */
const RSS_HEADROOM = 384 * MIB;

type Request =
  | { readonly kind: 'load'; readonly table: string; readonly bytes: Uint8Array; readonly limits: DataLimits }
  | { readonly kind: 'query'; readonly sql: string; readonly timeMs: number };

type Reply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'loaded'; readonly columns: ResultColumn[]; readonly rowCount: number }
  | { readonly kind: 'result'; readonly result: QueryResult }
  | { readonly kind: 'error'; readonly code: DataAnalysisErrorCode | null; readonly message: string };

const REPLY_KINDS: ReadonlySet<unknown> = new Set(['ready', 'loaded', 'result', 'error']);
/** Messages come from this module's own child, over the advanced (structured clone) channel. */
const isReply = (value: unknown): value is Reply =>
  typeof value === 'object' && value !== null && 'kind' in value && REPLY_KINDS.has(value.kind);
const isRequest = (value: unknown): value is Request =>
  typeof value === 'object' && value !== null && 'kind' in value && (value.kind === 'load' || value.kind === 'query');

/**
 * Loads one dataset into a fresh, locked engine in its own process.
 * @throws DataAnalysisError `too_large`, `not_text`, `empty` (the file), `bad_csv`, `timeout`, `out_of_memory` (reading it)
 */
export async function openDataset(options: OpenDatasetOptions): Promise<LoadedDataset> {
  const { table } = options;
  if (!isDatasetName(table)) throw new RangeError(`not a dataset name: ${JSON.stringify(table)}`);
  const limits = dataLimits(options.limits);
  const csv = checkCsv(options.bytes, limits.maxCsvBytes, limits.maxColumns);
  const memoryBytes = parseMemoryLimit(limits.memoryLimit);
  let engine: EngineProcess | undefined;
  let closed = false;

  /** A running engine with the table loaded: the current one, or a new one if the last was stopped. */
  async function loadedEngine(): Promise<{ engine: EngineProcess; loaded?: Extract<Reply, { kind: 'loaded' }> }> {
    if (engine?.running()) return { engine };
    const started = await startEngine(memoryBytes);
    engine = started;
    try {
      const reply = await started.request({ kind: 'load', table, bytes: csv, limits }, limits.loadTimeMs + GRACE_MS);
      if (reply.kind === 'error') throw replyError(reply);
      if (reply.kind !== 'loaded') throw new Error(`the engine answered ${reply.kind} to load`);
      return { engine: started, loaded: reply };
    } catch (error) {
      started.kill();
      throw stoppedError(error, {
        timeout: `Reading the dataset took longer than ${seconds(limits.loadTimeMs)}.`,
        memory: "The dataset does not fit in the engine's memory limit.",
      });
    }
  }

  const first = await loadedEngine();
  if (!first.loaded) throw new Error('the engine did not load the dataset');
  const { columns, rowCount } = first.loaded;
  // One query at a time: the next starts when the previous settled, however it ended.
  let last: Promise<unknown> = Promise.resolve();
  return {
    table,
    columns,
    rowCount,
    query(sql, queryOptions = {}) {
      const run = last.then(runQuery, runQuery);
      last = run.catch(() => undefined);
      return run;

      async function runQuery(): Promise<QueryResult> {
        if (closed) throw new Error(`the engine of ${table} is closed`);
        const timeMs = queryOptions.timeMs ?? limits.queryTimeMs;
        const { engine: running } = await loadedEngine();
        let reply: Reply;
        try {
          reply = await running.request({ kind: 'query', sql, timeMs }, timeMs + GRACE_MS);
        } catch (error) {
          throw stoppedError(error, {
            timeout: `The query ran longer than ${seconds(timeMs)} and was stopped: ask about less, or aggregate.`,
            memory: "The query needs more than the engine's memory limit: ask about less, or aggregate.",
          });
        }
        if (reply.kind === 'error') throw replyError(reply);
        if (reply.kind !== 'result') throw new Error(`the engine answered ${reply.kind} to a query`);
        return reply.result;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      engine?.kill();
    },
  };
}

/** Why the parent ended the child (or that it ended by itself: under the address-space bound, most likely memory). */
class EngineStopped extends Error {
  constructor(
    readonly reason: 'timeout' | 'memory' | 'exited',
    detail: string,
  ) {
    super(`the engine process stopped (${reason}): ${detail}`);
  }
}

function stoppedError(error: unknown, messages: { timeout: string; memory: string }): unknown {
  if (!(error instanceof EngineStopped)) return error;
  if (error.reason === 'timeout') return new DataAnalysisError('timeout', messages.timeout, { cause: error });
  return new DataAnalysisError('out_of_memory', messages.memory, { cause: error });
}

function replyError(reply: Extract<Reply, { kind: 'error' }>): Error {
  return reply.code === null ? new Error(reply.message) : new DataAnalysisError(reply.code, reply.message);
}

interface EngineProcess {
  /** Sends `request` and waits at most `waitMs` for the reply, then kills the child. @throws EngineStopped */
  request(request: Request | null, waitMs: number): Promise<Reply>;
  running(): boolean;
  kill(): void;
}

async function startEngine(memoryBytes: number): Promise<EngineProcess> {
  const child = spawnChild(memoryBytes);
  let stopped: EngineStopped['reason'] | undefined;
  let exited = false;
  let waiting: ((outcome: Reply | EngineStopped) => void) | undefined;
  const settle = (outcome: Reply | EngineStopped): void => {
    const waiter = waiting;
    waiting = undefined;
    waiter?.(outcome);
  };
  const stop = (reason: EngineStopped['reason']): void => {
    stopped ??= reason;
    child.kill('SIGKILL');
  };
  const poll = setInterval(() => {
    if (child.pid === undefined) return;
    residentBytes(child.pid).then((rss) => {
      if (rss !== undefined && rss > memoryBytes + RSS_HEADROOM) stop('memory');
    });
  }, POLL_MS);
  poll.unref();
  child.on('message', (message: unknown) => {
    if (isReply(message)) settle(message);
  });
  child.on('error', () => stop('exited'));
  child.on('exit', (code, signal) => {
    exited = true;
    clearInterval(poll);
    settle(new EngineStopped(stopped ?? 'exited', `exit code ${code}, signal ${signal}`));
  });
  const engine: EngineProcess = {
    request(request, waitMs) {
      return new Promise<Reply>((resolve, reject) => {
        if (exited) {
          reject(new EngineStopped(stopped ?? 'exited', 'the process had ended'));
          return;
        }
        const timer = setTimeout(() => stop('timeout'), waitMs);
        waiting = (outcome) => {
          clearTimeout(timer);
          if (outcome instanceof EngineStopped) reject(outcome);
          else resolve(outcome);
        };
        // A send on a closed channel fails; the exit that closed it settles the request.
        if (request !== null) child.send(request, (error) => error && stop('exited'));
      });
    },
    running: () => !exited && stopped === undefined,
    kill: () => stop(stopped ?? 'exited'),
  };
  try {
    const ready = await engine.request(null, START_MS);
    if (ready.kind !== 'ready') throw new Error(`the engine answered ${ready.kind} at start`);
  } catch (cause) {
    engine.kill();
    throw new Error('the data engine process did not start', { cause });
  }
  return engine;
}

/** This file as a child process, under the address-space bound where /bin/sh can set it (not under tsx). */
function spawnChild(memoryBytes: number): ChildProcess {
  const entry = __filename;
  // Under tsx (or ts-jest) this file is TypeScript: the child needs tsx's loader; the bundle is plain JavaScript
  // (createRequire, not require.resolve, which esbuild would want marked external).
  const underTsx = entry.endsWith('.ts');
  const nodeArgs = underTsx ? ['--import', pathToFileURL(createRequire(entry).resolve('tsx')).href] : [];
  const addressSpaceKb = Math.ceil((ADDRESS_SPACE_BASE + memoryBytes) / 1024);
  const options = {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
    env: { ...process.env, [CHILD_ENV]: '1' },
  } satisfies SpawnOptions;
  if (underTsx || !existsSync('/bin/sh')) return spawn(process.execPath, [...nodeArgs, entry], options);
  const script = 'ulimit -v "$0" && exec "$@"';
  return spawn('/bin/sh', ['-c', script, String(addressSpaceKb), process.execPath, ...nodeArgs, entry], options);
}

/** VmRSS of a process, bytes; undefined without /proc (not Linux) or once it ended. */
async function residentBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = status?.match(/^VmRSS:\s+(\d+)\s+kB/m)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** DuckDB's `memory_limit` text ('256MB', '1GiB') in bytes. @throws RangeError when it is not one */
export function parseMemoryLimit(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = UNITS[(match?.[2] || 'b').toLowerCase()];
  if (!match || unit === undefined) {
    throw new RangeError(`DuckDB refused its settings (is memory limit ${JSON.stringify(text)} valid?)`);
  }
  return Number(match[1]) * unit;
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;

/** The child: one engine, loaded once, answering queries until the parent disconnects or kills it. */
function runChild(): void {
  let loaded: LoadedDataset | undefined;
  const reply = (message: Reply): void => {
    process.send?.(message);
  };
  const failure = (error: unknown): Reply =>
    error instanceof DataAnalysisError
      ? { kind: 'error', code: error.code, message: error.message }
      : { kind: 'error', code: null, message: error instanceof Error ? error.message : String(error) };
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: unknown) => {
    if (!isRequest(message)) return;
    void handle(message).then(reply, (error: unknown) => reply(failure(error)));
  });
  reply({ kind: 'ready' });

  async function handle(request: Request): Promise<Reply> {
    if (request.kind === 'load') {
      loaded?.close();
      loaded = await openLocalDataset({ table: request.table, bytes: request.bytes, limits: request.limits });
      return { kind: 'loaded', columns: [...loaded.columns], rowCount: loaded.rowCount };
    }
    if (!loaded) throw new Error('no dataset is loaded');
    return { kind: 'result', result: await loaded.query(request.sql, { timeMs: request.timeMs }) };
  }
}

if (process.env[CHILD_ENV] === '1' && process.send !== undefined) runChild();
