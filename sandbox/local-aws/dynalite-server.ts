import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { cacheExpressionParsing } from './dynalite-expression-cache';
import { serveTransactions } from './dynalite-transactions';
import type { LocalServer } from './local-server';

export interface DynaliteOptions {
  /** @default 0 (any free port) */
  readonly port?: number;
  /** LevelDB directory that keeps the tables across restarts. @default in memory */
  readonly path?: string;
}

/**
 * Starts dynalite (the DynamoDB wire protocol over LevelDB) in this process on 127.0.0.1. Tables become ACTIVE at
 * once instead of after dynalite's default 500 ms, so start-up stays fast. TransactWriteItems, which dynalite lacks,
 * is answered by an emulation of DynamoDB's semantics in front of it (`dynalite-transactions.ts`). Its expression
 * parsing is memoized (`dynalite-expression-cache.ts`), for every dynalite in this process.
 */
export async function startDynalite(options: DynaliteOptions = {}): Promise<LocalServer> {
  cacheExpressionParsing();
  const server = dynalite({
    ...(options.path === undefined ? {} : { path: options.path }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  serveTransactions(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop() {
      stopped ??= new Promise<void>((resolve, reject) => {
        // dynalite's close also closes LevelDB, which releases the on-disk lock for the next start.
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
