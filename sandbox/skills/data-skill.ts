import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataAnalysisError } from '#data-analysis/data-analysis-error';
import { answerDataRequest, type DataSkillDeps } from '#data-analysis/data-skill';
import { type DatasetSpec, formatBytes } from '#data-analysis/dataset';
import type { DataLimits } from '#data-analysis/limits';
import type { WriteSql } from '#data-analysis/write-sql';
import { type RunningSkillServer, startSkillServer } from './skill-server';

/**
 * The sandbox's data-analysis skill (issue 17): `#data-analysis/data-skill` on the sample sales CSV
 * (`data/sample-sales.csv`, dataset `sales`), served over HTTP on 127.0.0.1 as the Lambda function answers an Invoke.
 * Try `/data`, `/sql sales SELECT region, sum(units) FROM sales GROUP BY region`, or, with a model that can write
 * SQL, `/data sales revenue by currency`.
 *
 * The HTTP contract of the other demo skills (`skill-server.ts`): `POST /` only (404 elsewhere, 405 for other
 * methods), a body over 6 MB (Lambda's synchronous payload limit: requests carry shared files) is 413, a body that
 * is not a v1 request is 400 with `{"error": "…"}`.
 */

export const SAMPLE_SALES_FILE = join(__dirname, 'data', 'sample-sales.csv');

/** The sample file as dataset `sales`. */
export const SAMPLE_SALES_DATASET: DatasetSpec = {
  name: 'sales',
  title: 'Sample sales orders 2024',
  description:
    'One row per order line: order date, sales region (Chinese regions such as 华东, and North America, Europe), product, units, unit price and its currency (CNY, USD, EUR).',
  load: (maxBytes) => readFileCapped(SAMPLE_SALES_FILE, maxBytes),
};

async function readFileCapped(file: string, maxBytes: number): Promise<Uint8Array> {
  const bytes = await readFile(file);
  if (bytes.byteLength > maxBytes) {
    throw new DataAnalysisError(
      'too_large',
      `The dataset file is ${formatBytes(bytes.byteLength)}, over the limit of ${formatBytes(maxBytes)}.`,
    );
  }
  return bytes;
}

/** Lambda's limit on a synchronous Invoke's request payload: 6 MB. */
export const LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;

export interface DataSkillOptions {
  /** Port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /** The model that writes SQL for `/data <question>`; `/sql` works without one that can. */
  readonly writeSql: WriteSql;
  /** @default [SAMPLE_SALES_DATASET] */
  readonly datasets?: readonly DatasetSpec[];
  readonly limits?: Partial<DataLimits>;
}

/** Starts the data skill on 127.0.0.1 (`skill-server.ts`: POST / only, 64 KiB, v1 requests). */
export async function startDataSkill(options: DataSkillOptions): Promise<RunningSkillServer> {
  const deps: DataSkillDeps = {
    datasets: options.datasets ?? [SAMPLE_SALES_DATASET],
    writeSql: options.writeSql,
    ...(options.limits ? { limits: options.limits } : {}),
    onInternalError: (error) => console.error('[data skill] declined after an internal error:', error),
  };
  return startSkillServer({
    ...(options.port === undefined ? {} : { port: options.port }),
    // Shared CSV/XLSX files come in the request, as in the Lambda's 6 MB synchronous Invoke payload.
    maxRequestBytes: LAMBDA_SYNC_PAYLOAD_BYTES,
    answer: (request) => answerDataRequest(request, deps),
  });
}
