import { createHash } from 'node:crypto';
import { chunkMarkdown } from '#core/retrieval/chunk-markdown';
import type { Embedder } from './embeddings/embedder';
import {
  DEFAULT_EXTRACT_LIMITS,
  DocumentRejected,
  type DocumentRejectionCode,
  type ExtractLimits,
  extractDocument,
  formatOfKey,
} from './extract/extract-document';
import type { ChunkToStore, KnowledgeStore } from './store/knowledge-store';
import { KnowledgeStoreError } from './store/knowledge-store-error';

/**
 * Ingestion of one knowledge base: makes the store hold exactly the source's supported documents, each at its
 * current version. Re-running it is cheap and safe: an unchanged document (same version: the S3 ETag, or a content
 * hash) is not read again; a changed one is replaced in one transaction (old chunks never mix with new); a document
 * gone from the source is deleted from the store, so deletion is honoured on the next run.
 *
 * Nothing is lost silently: every document ends in exactly one of the report's lists. A document refused for what it
 * is (too large, binary, a zip bomb, corrupt, encrypted; `DocumentRejected`) is listed with the reason, and a stored
 * earlier version of it is deleted: serving the text of a document that was replaced would answer from what its owner
 * withdrew. A failure that may pass (the embedding model or the store unavailable) is listed under `failed`, and the
 * stored version stays until a later run succeeds.
 */

export interface SourceObject {
  /** The key below the base's prefix, e.g. `travel/booking.md`. */
  readonly key: string;
  /** Changes whenever the content does (S3 ETag, or a content hash). */
  readonly version: string;
  readonly size: number;
}

export interface DocumentSource {
  /** Every object under the base's prefix (unsupported types included: they are reported, not skipped silently). */
  list(): Promise<readonly SourceObject[]>;
  /** The object's bytes; rejects with `DocumentRejected` 'too_large' rather than reading more than `maxBytes`. */
  read(key: string, maxBytes: number): Promise<Uint8Array>;
}

export interface IngestBase {
  readonly id: string;
  /** Documents are linked as `urlBase` + their key (path segments URI-encoded). */
  readonly urlBase?: string;
}

export interface IngestDeps {
  readonly source: DocumentSource;
  readonly store: KnowledgeStore;
  readonly embedder: Embedder;
  readonly limits?: Partial<ExtractLimits>;
  /** Documents processed at once. @default 4 */
  readonly concurrency?: number;
}

export interface IngestReport {
  readonly kbId: string;
  readonly added: readonly string[];
  readonly updated: readonly string[];
  readonly unchanged: number;
  readonly deleted: readonly string[];
  readonly rejected: readonly {
    readonly key: string;
    readonly code: DocumentRejectionCode;
    readonly message: string;
  }[];
  readonly failed: readonly { readonly key: string; readonly message: string }[];
  /** Chunks written by this run. */
  readonly chunks: number;
}

/** Texts per embedding call: the embedder batches further, this bounds one document's memory. */
const EMBED_BATCH = 64;

export async function ingestKnowledgeBase(base: IngestBase, deps: IngestDeps): Promise<IngestReport> {
  const limits = { ...DEFAULT_EXTRACT_LIMITS, ...deps.limits };
  const [objects, stored] = await Promise.all([deps.source.list(), deps.store.documents(base.id)]);
  const report = {
    added: [] as string[],
    updated: [] as string[],
    unchanged: 0,
    deleted: [] as string[],
    rejected: [] as { key: string; code: DocumentRejectionCode; message: string }[],
    failed: [] as { key: string; message: string }[],
    chunks: 0,
  };
  const seen = new Set<string>();
  const versionOf = storedVersion(base, deps.embedder);
  const pending = objects.filter((object) => {
    seen.add(object.key);
    if (stored.get(object.key) !== versionOf(object)) return true;
    report.unchanged++;
    return false;
  });

  const ingestOne = async (object: SourceObject): Promise<void> => {
    try {
      formatOfKey(object.key);
      if (object.size > limits.maxBytes) {
        throw new DocumentRejected(
          'too_large',
          object.key,
          `${object.key}: ${object.size} bytes, more than the limit of ${limits.maxBytes}`,
        );
      }
      const bytes = await deps.source.read(object.key, limits.maxBytes);
      const extracted = await extractDocument(object.key, bytes, limits);
      const url = documentUrl(base.urlBase, object.key);
      const text =
        extracted.title && !/^# /m.test(extracted.markdown)
          ? `# ${extracted.title}\n\n${extracted.markdown}`
          : extracted.markdown;
      const chunks = chunkMarkdown({ path: object.key, text, ...(url ? { url } : {}) });
      if (chunks.length === 0) {
        throw new DocumentRejected('empty', object.key, `${object.key}: no text to index`);
      }
      const embeddings: Float32Array[] = [];
      for (let i = 0; i < chunks.length; i += EMBED_BATCH) {
        const batch = chunks.slice(i, i + EMBED_BATCH);
        embeddings.push(...(await deps.embedder.embed(batch.map(embeddingText), 'document')));
      }
      if (embeddings.length !== chunks.length) {
        throw new Error(`the embedding model returned ${embeddings.length} vectors for ${chunks.length} chunks`);
      }
      // A section with no words (only symbols) has neither terms nor direction: nothing could ever retrieve it.
      const toStore: ChunkToStore[] = chunks.flatMap((chunk, i) => {
        const embedding = embeddings[i];
        if (!embedding || embedding.every((value) => value === 0)) return [];
        return [
          {
            chunkId: chunk.id,
            title: chunk.title,
            ...(chunk.section ? { section: chunk.section } : {}),
            ...(chunk.url ? { url: chunk.url } : {}),
            text: chunk.text,
            embedding,
          },
        ];
      });
      if (toStore.length === 0) {
        throw new DocumentRejected('empty', object.key, `${object.key}: no words to index`);
      }
      const title = chunks[0]?.title ?? object.key;
      await deps.store.replaceDocument(
        base.id,
        { key: object.key, version: versionOf(object), title, ...(url ? { url } : {}) },
        toStore,
      );
      (stored.has(object.key) ? report.updated : report.added).push(object.key);
      report.chunks += toStore.length;
    } catch (err) {
      const rejection = asRejection(err, object.key);
      if (!rejection) {
        report.failed.push({ key: object.key, message: err instanceof Error ? err.message : String(err) });
        return;
      }
      report.rejected.push({ key: object.key, code: rejection.code, message: rejection.message });
      if (stored.has(object.key) && (await deps.store.deleteDocument(base.id, object.key))) {
        report.deleted.push(object.key);
      }
    }
  };

  await forEachLimited(pending, deps.concurrency ?? 4, ingestOne);
  for (const key of stored.keys()) {
    if (seen.has(key)) continue;
    if (await deps.store.deleteDocument(base.id, key)) report.deleted.push(key);
  }
  return { kbId: base.id, ...report };
}

/**
 * A refusal that is a property of the document, or undefined for a failure that may pass. An extraction that ran out
 * of time is the latter: the limit is wall-clock, and several documents are extracted at once on one thread, so a
 * large file may finish on a quieter run; its stored version stays meanwhile. The store refusing what it was given
 * (a heading or key over its byte limits) is the former: it fails the same way on every run.
 */
function asRejection(err: unknown, key: string): DocumentRejected | undefined {
  if (err instanceof DocumentRejected) return err.code === 'timeout' ? undefined : err;
  if (err instanceof KnowledgeStoreError && err.code === 'invalid_input') {
    return new DocumentRejected('unstorable', key, `${key}: ${err.message}`);
  }
  return undefined;
}

/**
 * The version a document is stored under: its source version, the embedding model and the link base, hashed. A
 * change of model (its vectors are not comparable with the old ones) or of `urlBase` (every link changes) re-ingests
 * the base on the next run, as a changed document would be.
 */
function storedVersion(base: IngestBase, embedder: Embedder): (object: SourceObject) => string {
  const context = `${embedder.model}\n${embedder.dimensions}\n${base.urlBase ?? ''}`;
  return (object) => createHash('sha256').update(`${object.version}\n${context}`).digest('hex');
}

/** What a chunk is embedded as: its headings carry what the section is about. */
export function embeddingText(chunk: {
  readonly title: string;
  readonly section?: string;
  readonly text: string;
}): string {
  return [chunk.title, chunk.section, chunk.text].filter(Boolean).join('\n');
}

function documentUrl(urlBase: string | undefined, key: string): string | undefined {
  if (!urlBase) return undefined;
  return `${urlBase}${key.split('/').map(encodeURIComponent).join('/')}`;
}

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}
