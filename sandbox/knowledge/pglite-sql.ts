import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type SqlClient, SqlClientError, type SqlParam } from '../../functions/knowledge/store/sql-client';
import { scanParameters } from '../../functions/knowledge/store/sql-parameters';
import { toWireParams, type WireParam } from '../../functions/knowledge/store/sql-params';
import type {
  PgliteWorkerOptions,
  PgliteWorkerReply,
  PgliteWorkerRequest,
  PgliteWorkerStart,
  WireValue,
} from './pglite-worker';

/**
 * The knowledge store's SqlClient in the sandbox and the tests: PGlite (PostgreSQL compiled to WebAssembly) with the
 * pgvector extension, in memory unless `dataDir` is given. Only sandbox/ and test/ import it (PGlite is a
 * devDependency). The database lives in a worker thread (pglite-worker.ts says why); this is its client.
 *
 * It follows the Data API's parameter convention (sql-client.ts) to the letter: each parameter is declared with the
 * type the Data API sends it as (string → character varying, integer → bigint, other number → double precision,
 * boolean → boolean, null → unknown), so a statement that forgets a cast (`$2::vector`) fails here exactly as it
 * would on Aurora, and `$n`/`:name` are checked by the same scanner as rds-data-sql.ts.
 *
 * Values come back as PGlite parses them: text, integers, float8 and booleans as the Data API's JSON has them; int8
 * beyond 2^53 as a BigInt and timestamps as Dates (the Data API sends strings), so the store selects neither.
 * One connection: statements run one at a time, and a statement outside a running transaction waits for it.
 */

const PARAM_TYPE_OIDS: Readonly<Record<WireParam['kind'], number>> = {
  string: 1043, // character varying
  long: 20, // bigint
  double: 701, // double precision
  boolean: 16,
  null: 0, // unspecified: inferred from the statement, as the Data API's isNull
};

type Call = (request: DistributiveOmit<PgliteWorkerRequest, 'id'>) => Promise<PgliteWorkerReply & { ok: true }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function statementMessage(sql: string, params: readonly SqlParam[]) {
  const wire = toWireParams(params);
  scanParameters(sql, params.length, (n) => `$${n}`);
  return {
    op: 'query' as const,
    sql,
    values: wire.map((param): WireValue => (param.kind === 'null' ? null : param.value)),
    types: wire.map((param) => PARAM_TYPE_OIDS[param.kind]),
  };
}

async function runQuery<T extends Record<string, unknown>>(
  call: Call,
  sql: string,
  params: readonly SqlParam[],
  tx?: number,
): Promise<T[]> {
  const reply = await call({ ...statementMessage(sql, params), ...(tx === undefined ? {} : { tx }) });
  // The worker returns PGlite's rows; their columns' types are the caller's SELECT to know.
  return (reply.rows ?? []) as T[];
}

/** A transaction's client: its statements, then `settle()` waits for any `work` started but did not await. */
function transactionClient(call: Call, tx: number) {
  let ended = false;
  const pending = new Set<Promise<unknown>>();
  const client: SqlClient = {
    async query<T extends Record<string, unknown>>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
      if (ended) {
        throw new SqlClientError(
          'transaction_closed',
          'This transaction has ended; use the client it was started from.',
        );
      }
      const result = runQuery<T>(call, sql, params, tx);
      pending.add(result);
      return result.finally(() => pending.delete(result));
    },
    async transaction<T>(): Promise<T> {
      throw new SqlClientError(
        'nested_transaction',
        'A transaction cannot start another: there are no nested transactions.',
      );
    },
  };
  return {
    client,
    async end(): Promise<void> {
      ended = true;
      await Promise.allSettled([...pending]);
    },
  };
}

export async function createPgliteSql(options?: { dataDir?: string }): Promise<SqlClient & { close(): Promise<void> }> {
  const workerOptions: PgliteWorkerOptions = options?.dataDir === undefined ? {} : { dataDir: options.dataDir };
  const worker = new Worker(path.join(__dirname, 'pglite-worker.ts'), {
    workerData: workerOptions,
    execArgv: ['--import', pathToFileURL(require.resolve('tsx')).href],
  });
  const waiting = new Map<number, { resolve: (reply: PgliteWorkerReply) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let stopped: SqlClientError | undefined;

  const stop = (reason: string) => {
    stopped = new SqlClientError('query_failed', `The PGlite worker stopped: ${reason}`);
    for (const { reject } of waiting.values()) reject(stopped);
    waiting.clear();
  };
  try {
    await new Promise<void>((ready, failed) => {
      worker.once('message', (start: PgliteWorkerStart) => {
        if (start.ready) ready();
        else failed(new SqlClientError('query_failed', `PGlite did not start: ${start.message}`));
      });
      worker.once('error', failed);
    });
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  // An idle database never keeps the process alive (a test or script that forgets close() still exits); one with a
  // statement in flight does.
  worker.unref();
  worker.on('message', (reply: PgliteWorkerReply) => {
    waiting.get(reply.id)?.resolve(reply);
    waiting.delete(reply.id);
    if (waiting.size === 0) worker.unref();
  });
  worker.on('error', (error) => stop(error.message));
  worker.on('exit', (code) => stop(`exit code ${code}`));

  const call: Call = async (request) => {
    if (stopped !== undefined) throw stopped;
    const id = nextId++;
    const reply = await new Promise<PgliteWorkerReply>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...request, id } as PgliteWorkerRequest);
    });
    if (!reply.ok) {
      throw new SqlClientError('query_failed', `PGlite: ${reply.message}`, {
        ...(reply.sqlState === undefined ? {} : { sqlState: reply.sqlState }),
      });
    }
    return reply;
  };

  return {
    query: <T extends Record<string, unknown>>(sql: string, params: readonly SqlParam[] = []) =>
      runQuery<T>(call, sql, params),
    async transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T> {
      const { tx } = await call({ op: 'begin' });
      if (tx === undefined) throw new SqlClientError('bad_response', 'The PGlite worker began no transaction.');
      const scoped = transactionClient(call, tx);
      let result: T;
      try {
        result = await work(scoped.client);
      } catch (error) {
        await scoped.end();
        await call({ op: 'end', tx, commit: false }).catch(() => undefined); // work's error is the one to report
        throw error;
      }
      await scoped.end();
      await call({ op: 'end', tx, commit: true });
      return result;
    },
    async close(): Promise<void> {
      if (stopped === undefined) await call({ op: 'close' });
      await worker.terminate();
    },
  };
}
