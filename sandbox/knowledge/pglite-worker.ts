import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

/**
 * The worker thread that owns the sandbox's PGlite database (pglite-sql.ts starts it and is its only client).
 *
 * Why a worker: PGlite starts its WebAssembly with dynamic `import()`, which code loaded by Jest's CommonJS module
 * system cannot run; a worker thread is plain Node. It also keeps PostgreSQL's CPU work off the caller's thread.
 *
 * Protocol: each request carries an id and gets exactly one reply with that id. A transaction is opened by `begin`
 * (its reply carries the transaction's id), used by `query` requests naming it, and ended by `end` (commit or roll
 * back); statements outside it wait for it to end, as on one PostgreSQL connection.
 */

export type WireValue = string | number | boolean | null;

export interface PgliteWorkerOptions {
  readonly dataDir?: string;
}

export type PgliteWorkerRequest =
  | {
      readonly id: number;
      readonly op: 'query';
      readonly sql: string;
      readonly values: readonly WireValue[];
      readonly types: readonly number[];
      readonly tx?: number;
    }
  | { readonly id: number; readonly op: 'begin' }
  | { readonly id: number; readonly op: 'end'; readonly tx: number; readonly commit: boolean }
  | { readonly id: number; readonly op: 'close' };

export type PgliteWorkerReply =
  | { readonly id: number; readonly ok: true; readonly rows?: Record<string, unknown>[]; readonly tx?: number }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly sqlState?: string };

/** The first message: the database is ready, or could not start. */
export type PgliteWorkerStart = { readonly ready: true } | { readonly ready: false; readonly message: string };

interface OpenTransaction {
  readonly tx: Transaction;
  readonly end: (commit: boolean) => void;
  readonly finished: Promise<void>;
}

/** Thrown inside PGlite's transaction callback to make it roll back. */
class RollbackRequested extends Error {}

function failure(id: number, error: unknown): PgliteWorkerReply {
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return { id, ok: false, message, ...(typeof code === 'string' ? { sqlState: code } : {}) };
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('pglite-worker.ts runs as a worker thread (see pglite-sql.ts).');
  const options: PgliteWorkerOptions = workerData ?? {};
  let db: PGlite;
  try {
    db = await PGlite.create({
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      extensions: { vector },
    });
  } catch (error) {
    port.postMessage({ ready: false, message: error instanceof Error ? error.message : String(error) });
    return;
  }
  const open = new Map<number, OpenTransaction>();
  let nextTx = 1;

  const begin = (): Promise<number> => {
    const txId = nextTx++;
    return new Promise<number>((started, failed) => {
      let end: (commit: boolean) => void = () => undefined;
      const decided = new Promise<boolean>((resolve) => {
        end = resolve;
      });
      const finished = db
        .transaction(async (tx) => {
          open.set(txId, { tx, end, finished });
          started(txId);
          if (!(await decided)) throw new RollbackRequested();
        })
        .catch((error: unknown) => {
          if (!(error instanceof RollbackRequested)) throw error;
        })
        .finally(() => open.delete(txId));
      finished.catch(failed); // BEGIN itself failed: nobody else is waiting on `finished` yet
    });
  };

  const handle = async (request: PgliteWorkerRequest): Promise<PgliteWorkerReply> => {
    switch (request.op) {
      case 'query': {
        const executor = request.tx === undefined ? db : open.get(request.tx)?.tx;
        if (executor === undefined) throw new Error(`Transaction ${request.tx} is not open.`);
        const result = await executor.query<Record<string, unknown>>(request.sql, [...request.values], {
          paramTypes: [...request.types],
        });
        return { id: request.id, ok: true, rows: result.rows };
      }
      case 'begin':
        return { id: request.id, ok: true, tx: await begin() };
      case 'end': {
        const transaction = open.get(request.tx);
        if (transaction === undefined) throw new Error(`Transaction ${request.tx} is not open.`);
        transaction.end(request.commit);
        await transaction.finished;
        return { id: request.id, ok: true };
      }
      case 'close':
        await db.close();
        return { id: request.id, ok: true };
    }
  };

  port.on('message', (request: PgliteWorkerRequest) => {
    handle(request).then(
      (reply) => port.postMessage(reply),
      (error: unknown) => port.postMessage(failure(request.id, error)),
    );
  });
  port.postMessage({ ready: true } satisfies PgliteWorkerStart);
}

void main();
