import '#shared/install-stack-source-map';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { S3Event, ScheduledEvent } from 'aws-lambda';
import { knowledgeRuntime } from '#composition/knowledge-runtime';
import { baseOfObject, type KnowledgeBaseConfig } from '#config/knowledge-config';
import { type IngestReport, ingestKnowledgeBase } from '#knowledge/ingest';
import { pruneRemovedBases } from '#knowledge/prune';
import { s3DocumentSource } from '#knowledge/s3-source';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';

/**
 * Knowledge ingestion (docs/KNOWLEDGE.md): run by S3 notifications for the bases' prefixes and by a daily schedule.
 * An S3 event re-ingests the bases its objects belong to; the schedule, every base. Each run reconciles a whole base
 * (`ingestKnowledgeBase`: unchanged documents are skipped by ETag, changed ones replaced, removed ones deleted), so a
 * missed or out-of-order notification is repaired by the next run, and reserved concurrency 1 keeps runs from racing.
 * Rejected documents are logged with their reason and do not fail the run; a failure that may pass (embedding model,
 * database) fails the invocation after every base was tried, so Lambda's asynchronous retries run it again.
 * Every run first deletes what the store holds of bases no longer configured (`pruneRemovedBases`), and waits up to
 * `RESUME_WAIT_MS` for a paused database to resume: nobody waits for ingestion, and an S3 event must not be lost to a
 * pause.
 */
const RESUME_WAIT_MS = 90_000;

export const handler = withMiddlewares(
  async (event: Partial<S3Event> | Partial<ScheduledEvent>): Promise<readonly IngestReport[]> => {
    const runtime = knowledgeRuntime(process.env, { resumeWaitMs: RESUME_WAIT_MS });
    const { knowledge, bucket } = runtime.config;
    if (!bucket) throw new Error('KNOWLEDGE_BUCKET is not set: ingestion needs the knowledge bucket');
    const bases = basesOf(event, knowledge.bases);
    await runtime.store.migrate();
    const pruned = await pruneRemovedBases(
      runtime.store,
      knowledge.bases.map((base) => base.id),
    );
    for (const base of pruned) logger.warn('knowledge base removed from the configuration: deleted', { ...base });
    const reports: IngestReport[] = [];
    for (const base of bases) {
      const report = await ingestKnowledgeBase(
        { id: base.id, ...(base.urlBase ? { urlBase: base.urlBase } : {}) },
        {
          source: s3DocumentSource(await runtime.s3(), bucket, base.prefix),
          store: runtime.store,
          embedder: runtime.embedder,
        },
      );
      reports.push(report);
      logger.info('knowledge base ingested', {
        kbId: report.kbId,
        added: report.added.length,
        updated: report.updated.length,
        unchanged: report.unchanged,
        deleted: report.deleted.length,
        chunks: report.chunks,
      });
      for (const rejected of report.rejected) logger.warn('document rejected', { kbId: report.kbId, ...rejected });
      for (const failed of report.failed)
        logger.error('document not ingested; retried next run', { kbId: report.kbId, ...failed });
    }
    const failed = reports.reduce((n, r) => n + r.failed.length, 0);
    if (failed > 0)
      throw new Error(`${failed} document(s) could not be ingested (see the log); the run will be retried`);
    return reports;
  },
  [injectLambdaContext(logger)],
);

/** The bases an S3 event's objects belong to (in configuration order), or every base for any other event. */
export function basesOf(
  event: Partial<S3Event> | Partial<ScheduledEvent>,
  bases: readonly KnowledgeBaseConfig[],
): KnowledgeBaseConfig[] {
  const records = (event as Partial<S3Event>).Records;
  if (!Array.isArray(records)) return [...bases];
  const ids = new Set<string>();
  for (const record of records) {
    // Keys arrive URL-encoded, spaces as '+'.
    const key = decodeURIComponent((record.s3?.object?.key ?? '').replace(/\+/g, ' '));
    const found = baseOfObject({ bases: [...bases] }, key);
    if (found) ids.add(found.base.id);
  }
  return bases.filter((base) => ids.has(base.id));
}
