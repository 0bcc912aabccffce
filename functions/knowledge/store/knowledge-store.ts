import * as z from '#shared/zod';
import { batchesBySize } from './batches';
import { chunkTerms, queryTerms } from './chunk-terms';
import { vectorLiteral } from './embedding';
import { KnowledgeStoreError } from './knowledge-store-error';
import {
  EXISTING_DIMENSIONS_SQL,
  ITERATIVE_SCAN_STATEMENTS,
  MIN_ITERATIVE_SCAN_VERSION,
  schemaStatements,
  VECTOR_VERSION_SQL,
} from './schema';
import { type SearchRow, searchStatement } from './search-sql';
import type { SqlClient } from './sql-client';
import { textArrayLiteral } from './sql-params';
import {
  checkedCount,
  checkedId,
  checkedOptionalText,
  checkedText,
  DEFAULT_CANDIDATES,
  LIMITS,
  MAX_CANDIDATES,
  MAX_K,
  stripNul,
} from './store-input';

/**
 * The knowledge bases' chunks in PostgreSQL with pgvector (Aurora Serverless v2 through the Data API in AWS, PGlite
 * locally; the same SQL through `SqlClient`), searched by hybrid retrieval: BM25 over stored postings plus cosine
 * similarity over embeddings, fused by Reciprocal Rank Fusion (search-sql.ts). A search reads only the knowledge
 * bases it is given, and their statistics only.
 *
 * Writes are per document, each in one transaction: its chunks, their postings and its kb's statistics change
 * together or not at all. Writers of one document are serialised by a transaction-scoped advisory lock on
 * (kb, document); writers of different documents of one kb meet only at the kb's kb_stats row (a delta update held
 * until commit). `migrate()` must have run once against the database before anything else.
 *
 * Input rules (store-input.ts): ids non-empty, without NUL, within byte limits; NULs removed from free text; an
 * embedding of other dimensions → KnowledgeStoreError('dimensions'). A section or url that is empty is stored as
 * absent.
 */

export interface ChunkToStore {
  /** stable within the document, e.g. chunkMarkdown's id */
  readonly chunkId: string;
  readonly title: string;
  readonly section?: string;
  readonly url?: string;
  readonly text: string;
  /** length = dimensions */
  readonly embedding: readonly number[] | Float32Array;
}

export interface DocumentToStore {
  readonly key: string;
  readonly version: string;
  readonly title: string;
  readonly url?: string;
}

export interface KnowledgeHit {
  readonly kbId: string;
  readonly docKey: string;
  readonly chunkId: string;
  readonly title: string;
  readonly section?: string;
  readonly url?: string;
  readonly text: string;
  /** fused RRF score */
  readonly score: number;
  /** 1-based rank in the BM25 list, if it was in it */
  readonly lexicalRank?: number;
  readonly lexicalScore?: number;
  /** 1-based rank in the vector list, if it was in it */
  readonly vectorRank?: number;
  /** cosine similarity 1 - distance */
  readonly similarity?: number;
}

export interface SearchQuery {
  /** empty → [] without touching the database */
  readonly kbIds: readonly string[];
  /** tokenized here with `tokenize` */
  readonly text: string;
  /** absent → lexical only */
  readonly embedding?: readonly number[] | Float32Array;
  /** hits returned, 1..MAX_K */
  readonly k: number;
  /** per list before fusion, default 50, 1..MAX_CANDIDATES (raised to k when smaller) */
  readonly candidates?: number;
}

export interface KnowledgeStoreOptions {
  /** The embedding model's dimensions, 1..2000 (pgvector's HNSW index takes at most 2000). */
  readonly dimensions: number;
}

/** pgvector's HNSW limit for the `vector` type. */
export const MAX_DIMENSIONS = 2000;
/** One INSERT's share of a Data API request (4 MiB), leaving room for JSON escaping and headers. */
const MAX_BATCH_BYTES = 1024 * 1024;
const MAX_CHUNKS_PER_INSERT = 500;
const MAX_POSTINGS_PER_INSERT = 20_000;
/** documents() reads keys in pages of this many rows: a response stays far below the Data API's 1 MiB. */
const DOCUMENT_PAGE = 1000;
/** Names the advisory lock that serialises concurrent migrations. */
const SCHEMA_LOCK = 'groupgate.knowledge-store.schema';

const searchRowSchema = z.object({
  kb_id: z.string(),
  doc_key: z.string(),
  chunk_id: z.string(),
  title: z.string(),
  section: z.nullable(z.string()),
  url: z.nullable(z.string()),
  text: z.string(),
  score: z.number(),
  lexical_rank: z.nullable(z.number()),
  lexical_score: z.nullable(z.number()),
  vector_rank: z.nullable(z.number()),
  similarity: z.nullable(z.number()),
});
const documentRowSchema = z.object({ doc_key: z.string(), version: z.string() });
const storedDocumentSchema = z.object({ version: z.string(), chunks: z.number(), terms: z.number() });
const countsSchema = z.object({ documents: z.number(), chunks: z.number() });
const documentCountSchema = z.object({ documents: z.number() });
const kbIdRowSchema = z.object({ kb_id: z.string() });
const dimensionsSchema = z.object({ dimensions: z.number() });
const versionSchema = z.object({ version: z.string() });

function parseRow<S extends z.ZodMiniType>(schema: S, row: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(row);
  if (!parsed.success) {
    throw new KnowledgeStoreError('bad_row', `Unexpected ${what} row from the database: ${parsed.error.message}`);
  }
  return parsed.data;
}

/** A chunk checked and prepared for the INSERTs. */
interface PreparedChunk {
  readonly chunkId: string;
  readonly ordinal: number;
  readonly title: string;
  readonly section: string | undefined;
  readonly url: string | undefined;
  readonly text: string;
  readonly vector: string;
  readonly frequencies: ReadonlyMap<string, number>;
  readonly length: number;
}

interface Posting {
  readonly ordinal: number;
  readonly term: string;
  readonly tf: number;
}

/** A text's bytes once an array-literal element inside a Data API JSON request (both escapings counted). */
const wireBytes = (value: string): number => Buffer.byteLength(JSON.stringify(textArrayLiteral([value])), 'utf8');

function versionAtLeast(version: string, minimum: readonly number[]): boolean {
  const parts = version.split('.').map((part) => Number.parseInt(part, 10));
  for (let i = 0; i < minimum.length; i++) {
    const have = parts[i] ?? 0;
    const want = minimum[i] ?? 0;
    if (Number.isNaN(have) || have !== want) return !Number.isNaN(have) && have > want;
  }
  return true;
}

export class KnowledgeStore {
  private readonly dimensions: number;

  constructor(
    private readonly sql: SqlClient,
    options: KnowledgeStoreOptions,
  ) {
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1 || options.dimensions > MAX_DIMENSIONS) {
      throw new KnowledgeStoreError(
        'dimensions',
        `dimensions is ${options.dimensions}; it must be an integer from 1 to ${MAX_DIMENSIONS}.`,
      );
    }
    this.dimensions = options.dimensions;
  }

  /** Idempotent schema: CREATE EXTENSION IF NOT EXISTS vector; tables; indexes (HNSW on the embedding with
   *  vector_cosine_ops; btree on postings (kb_id, term)). Throws a named error if an existing schema was created
   *  with other dimensions. Concurrent migrations wait for each other (advisory lock). On pgvector ≥ 0.8 it also
   *  makes iterative HNSW scans the role's default (schema.ts says why). */
  async migrate(): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::text AS locked', [SCHEMA_LOCK]);
      await tx.query('CREATE EXTENSION IF NOT EXISTS vector');
      const [existing] = await tx.query(EXISTING_DIMENSIONS_SQL);
      if (existing !== undefined) {
        const { dimensions } = parseRow(dimensionsSchema, existing, 'schema');
        if (dimensions !== this.dimensions) {
          throw new KnowledgeStoreError(
            'dimensions',
            `The knowledge store's schema holds ${dimensions}-dimension embeddings, not ${this.dimensions}: ` +
              'a different embedding model needs its own database (or the kb tables dropped and re-ingested).',
          );
        }
      }
      for (const statement of schemaStatements(this.dimensions)) await tx.query(statement);
      const [vector] = await tx.query(VECTOR_VERSION_SQL);
      const { version } = parseRow(versionSchema, vector, 'pgvector version');
      if (versionAtLeast(version, MIN_ITERATIVE_SCAN_VERSION)) {
        for (const statement of ITERATIVE_SCAN_STATEMENTS) await tx.query(statement);
      }
    });
  }

  /** The stored documents of a knowledge base: key → version (for re-ingestion diffs). */
  async documents(kbId: string): Promise<Map<string, string>> {
    const kb = checkedId(kbId, 'kbId', LIMITS.kbIdBytes);
    const documents = new Map<string, string>();
    let after = '';
    for (;;) {
      const rows = await this.sql.query(
        `SELECT doc_key, version FROM kb_documents
         WHERE kb_id = $1 AND doc_key > $2
         ORDER BY doc_key
         LIMIT $3`,
        [kb, after, DOCUMENT_PAGE],
      );
      for (const row of rows) {
        const { doc_key, version } = parseRow(documentRowSchema, row, 'kb_documents');
        documents.set(doc_key, version);
        after = doc_key;
      }
      if (rows.length < DOCUMENT_PAGE) return documents;
    }
  }

  /** Replaces the document's chunks (and postings, and the kb's corpus statistics) in ONE transaction; a version
   *  equal to the stored one is a no-op returning false. */
  async replaceDocument(kbId: string, doc: DocumentToStore, chunks: readonly ChunkToStore[]): Promise<boolean> {
    const kb = checkedId(kbId, 'kbId', LIMITS.kbIdBytes);
    const key = checkedId(doc.key, 'document key', LIMITS.docKeyBytes);
    const version = checkedId(doc.version, `version of document ${key}`, LIMITS.versionBytes);
    const title = checkedText(doc.title, `title of document ${key}`, LIMITS.titleBytes);
    const url = checkedOptionalText(doc.url, `url of document ${key}`, LIMITS.urlBytes);
    const prepared = this.prepareChunks(key, chunks);
    const totalTerms = prepared.reduce((sum, chunk) => sum + chunk.length, 0);

    return this.sql.transaction(async (tx) => {
      const stored = await this.lockDocument(tx, kb, key);
      if (stored?.version === version) return false;
      if (stored !== undefined) await this.deleteChunks(tx, kb, key);
      await this.insertChunks(tx, kb, key, prepared);
      await tx.query(
        `INSERT INTO kb_documents (kb_id, doc_key, version, title, url, chunks, terms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (kb_id, doc_key) DO UPDATE SET version = EXCLUDED.version, title = EXCLUDED.title,
           url = EXCLUDED.url, chunks = EXCLUDED.chunks, terms = EXCLUDED.terms, updated_at = now()`,
        [kb, key, version, title, url ?? null, prepared.length, totalTerms],
      );
      await this.adjustStats(tx, kb, prepared.length - (stored?.chunks ?? 0), totalTerms - (stored?.terms ?? 0));
      return true;
    });
  }

  /** Deletes the document, its chunks and postings, and updates the statistics; false if it was not stored. */
  async deleteDocument(kbId: string, key: string): Promise<boolean> {
    const kb = checkedId(kbId, 'kbId', LIMITS.kbIdBytes);
    const docKey = checkedId(key, 'document key', LIMITS.docKeyBytes);
    return this.sql.transaction(async (tx) => {
      const stored = await this.lockDocument(tx, kb, docKey);
      if (stored === undefined) return false;
      await this.deleteChunks(tx, kb, docKey);
      await tx.query('DELETE FROM kb_documents WHERE kb_id = $1 AND doc_key = $2', [kb, docKey]);
      await this.adjustStats(tx, kb, -stored.chunks, -stored.terms);
      return true;
    });
  }

  /** The ids of every knowledge base the store holds anything of (documents or statistics), in byte order. */
  async storedKnowledgeBases(): Promise<string[]> {
    const rows = await this.sql.query(
      'SELECT kb_id FROM (SELECT kb_id FROM kb_stats UNION SELECT kb_id FROM kb_documents) AS kbs ORDER BY kb_id COLLATE "C"',
    );
    return rows.map((row) => parseRow(kbIdRowSchema, row, 'kb id').kb_id);
  }

  /** Drops everything of a knowledge base (an operator removed it from the configuration); returns the number of
   *  documents it held. Meant for a kb no ingestion writes to any more. */
  async deleteKnowledgeBase(kbId: string): Promise<number> {
    const kb = checkedId(kbId, 'kbId', LIMITS.kbIdBytes);
    return this.sql.transaction(async (tx) => {
      const [row] = await tx.query('SELECT count(*)::int AS documents FROM kb_documents WHERE kb_id = $1', [kb]);
      const { documents } = parseRow(documentCountSchema, row, 'count');
      await tx.query('DELETE FROM kb_postings WHERE kb_id = $1', [kb]);
      await tx.query('DELETE FROM kb_chunks WHERE kb_id = $1', [kb]);
      await tx.query('DELETE FROM kb_documents WHERE kb_id = $1', [kb]);
      await tx.query('DELETE FROM kb_stats WHERE kb_id = $1', [kb]);
      return documents;
    });
  }

  async search(query: SearchQuery): Promise<KnowledgeHit[]> {
    const k = checkedCount(query.k, 'k', 1, MAX_K);
    const candidates = Math.max(
      k,
      checkedCount(query.candidates ?? DEFAULT_CANDIDATES, 'candidates', 1, MAX_CANDIDATES),
    );
    const vector =
      query.embedding === undefined
        ? undefined
        : vectorLiteral(query.embedding, this.dimensions, 'The query embedding');
    const kbIds = [...new Set(query.kbIds.map((kbId) => checkedId(kbId, 'kbId', LIMITS.kbIdBytes)))];
    if (kbIds.length === 0) return [];
    const statement = searchStatement({
      kbIds,
      terms: queryTerms(stripNul(query.text)),
      ...(vector === undefined ? {} : { vector }),
      candidates,
      k,
    });
    if (statement === undefined) return [];
    const rows = await this.sql.query<SearchRow>(statement.sql, statement.params);
    return rows.map((row) => toHit(parseRow(searchRowSchema, row, 'search')));
  }

  async stats(kbId: string): Promise<{ documents: number; chunks: number }> {
    const kb = checkedId(kbId, 'kbId', LIMITS.kbIdBytes);
    const [row] = await this.sql.query(
      `SELECT (SELECT count(*) FROM kb_documents WHERE kb_id = $1)::int AS documents,
              (SELECT count(*) FROM kb_chunks WHERE kb_id = $2)::int AS chunks`,
      [kb, kb],
    );
    return parseRow(countsSchema, row, 'stats');
  }

  private prepareChunks(key: string, chunks: readonly ChunkToStore[]): PreparedChunk[] {
    const seen = new Set<string>();
    return chunks.map((chunk, ordinal) => {
      const where = `chunk ${ordinal} of document ${key}`;
      const chunkId = checkedId(chunk.chunkId, `chunkId of ${where}`, LIMITS.chunkIdBytes);
      if (seen.has(chunkId)) {
        throw new KnowledgeStoreError('invalid_input', `Document ${key} has two chunks with the id ${chunkId}.`);
      }
      seen.add(chunkId);
      const title = checkedText(chunk.title, `title of ${where}`, LIMITS.titleBytes);
      const section = checkedOptionalText(chunk.section, `section of ${where}`, LIMITS.sectionBytes);
      const text = checkedText(chunk.text, `text of ${where}`, LIMITS.textBytes);
      const terms = chunkTerms({ title, text, ...(section === undefined ? {} : { section }) });
      return {
        chunkId,
        ordinal,
        title,
        section,
        url: checkedOptionalText(chunk.url, `url of ${where}`, LIMITS.urlBytes),
        text,
        vector: vectorLiteral(chunk.embedding, this.dimensions, `The embedding of ${where}`),
        frequencies: terms.frequencies,
        length: terms.length,
      };
    });
  }

  /** Serialises writers of this document and reads its stored row (undefined when it is not stored). */
  private async lockDocument(
    tx: SqlClient,
    kb: string,
    key: string,
  ): Promise<{ version: string; chunks: number; terms: number } | undefined> {
    // Unit separator: no id holds it unnoticed, so (a, b/c) and (a/b, c) lock differently.
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::text AS locked', [`${kb}\u001f${key}`]);
    const [row] = await tx.query(
      'SELECT version, chunks, terms::float8 AS terms FROM kb_documents WHERE kb_id = $1 AND doc_key = $2 FOR UPDATE',
      [kb, key],
    );
    return row === undefined ? undefined : parseRow(storedDocumentSchema, row, 'kb_documents');
  }

  private async deleteChunks(tx: SqlClient, kb: string, key: string): Promise<void> {
    await tx.query(
      'DELETE FROM kb_postings WHERE chunk_pk IN (SELECT id FROM kb_chunks WHERE kb_id = $1 AND doc_key = $2)',
      [kb, key],
    );
    await tx.query('DELETE FROM kb_chunks WHERE kb_id = $1 AND doc_key = $2', [kb, key]);
  }

  private async insertChunks(tx: SqlClient, kb: string, key: string, chunks: readonly PreparedChunk[]): Promise<void> {
    const chunkBytes = (chunk: PreparedChunk) =>
      wireBytes(chunk.chunkId) +
      wireBytes(chunk.title) +
      wireBytes(chunk.section ?? '') +
      wireBytes(chunk.url ?? '') +
      wireBytes(chunk.text) +
      chunk.vector.length;
    for (const batch of batchesBySize(chunks, chunkBytes, {
      maxItems: MAX_CHUNKS_PER_INSERT,
      maxBytes: MAX_BATCH_BYTES,
    })) {
      await tx.query(
        `INSERT INTO kb_chunks (kb_id, doc_key, chunk_id, ordinal, title, section, url, text, n_terms, embedding)
         SELECT $1, $2, c.chunk_id, c.ordinal, c.title, NULLIF(c.section, ''), NULLIF(c.url, ''), c.text, c.n_terms,
           c.embedding::vector
         FROM unnest($3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[])
           AS c(chunk_id, ordinal, title, section, url, text, n_terms, embedding)`,
        [
          kb,
          key,
          batch.map((c) => c.chunkId),
          batch.map((c) => String(c.ordinal)),
          batch.map((c) => c.title),
          batch.map((c) => c.section ?? ''),
          batch.map((c) => c.url ?? ''),
          batch.map((c) => c.text),
          batch.map((c) => String(c.length)),
          batch.map((c) => c.vector),
        ],
      );
    }
    const postings: Posting[] = [];
    for (const chunk of chunks) {
      for (const [term, tf] of chunk.frequencies) postings.push({ ordinal: chunk.ordinal, term, tf });
    }
    // Terms are letters, digits and CJK (tokenize): at most 3 bytes per UTF-16 unit, nothing to escape.
    for (const batch of batchesBySize(postings, (posting) => posting.term.length * 3 + 16, {
      maxItems: MAX_POSTINGS_PER_INSERT,
      maxBytes: MAX_BATCH_BYTES,
    })) {
      await tx.query(
        `INSERT INTO kb_postings (kb_id, term, chunk_pk, tf, n_terms)
         SELECT c.kb_id, p.term, c.id, p.tf, c.n_terms
         FROM unnest($1::int[], $2::text[], $3::real[]) AS p(ordinal, term, tf)
         JOIN kb_chunks c ON c.kb_id = $4 AND c.doc_key = $5 AND c.ordinal = p.ordinal`,
        [
          batch.map((posting) => String(posting.ordinal)),
          batch.map((posting) => posting.term),
          batch.map((posting) => String(posting.tf)),
          kb,
          key,
        ],
      );
    }
  }

  private async adjustStats(tx: SqlClient, kb: string, chunks: number, terms: number): Promise<void> {
    await tx.query(
      `INSERT INTO kb_stats (kb_id, n_chunks, sum_terms) VALUES ($1, $2, $3)
       ON CONFLICT (kb_id) DO UPDATE SET n_chunks = kb_stats.n_chunks + EXCLUDED.n_chunks,
         sum_terms = kb_stats.sum_terms + EXCLUDED.sum_terms`,
      [kb, chunks, terms],
    );
  }
}

function toHit(row: z.infer<typeof searchRowSchema>): KnowledgeHit {
  return {
    kbId: row.kb_id,
    docKey: row.doc_key,
    chunkId: row.chunk_id,
    title: row.title,
    ...(row.section === null ? {} : { section: row.section }),
    ...(row.url === null ? {} : { url: row.url }),
    text: row.text,
    score: row.score,
    ...(row.lexical_rank === null ? {} : { lexicalRank: row.lexical_rank }),
    ...(row.lexical_score === null ? {} : { lexicalScore: row.lexical_score }),
    ...(row.vector_rank === null ? {} : { vectorRank: row.vector_rank }),
    ...(row.similarity === null ? {} : { similarity: row.similarity }),
  };
}
