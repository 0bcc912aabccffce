/**
 * The knowledge store's tables (one statement each: the Data API runs one per call).
 *
 * - kb_documents: one row per stored document; `chunks` and `terms` are its share of its kb's statistics, so
 *   replacing or deleting it adjusts kb_stats without re-reading its chunks.
 * - kb_chunks: the retrievable chunks with their embedding (`vector(D)`, cosine HNSW index). `ordinal` is the chunk's
 *   place in its document; (kb_id, doc_key, ordinal) is unique and serves deletes by document or kb and the
 *   postings' insert join.
 * - kb_postings: one row per (chunk, distinct term) with the weighted term frequency and the chunk's weighted length
 *   (copied, so BM25 scores need no join to kb_chunks). `term` uses the "C" collation: byte order is all an equality
 *   lookup needs, and it is the cheapest comparison in a btree the size of the corpus. The (kb_id, term) index
 *   includes the scored columns, so a lexical search reads the index only (once vacuum has marked pages visible).
 * - kb_stats: per kb, the chunk count and summed weighted lengths: BM25's N and average length for any set of kbs.
 *
 * `dimensions` is a checked integer (knowledge-store.ts): DDL takes no parameters.
 */
export function schemaStatements(dimensions: number): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS kb_documents (
      kb_id text NOT NULL,
      doc_key text NOT NULL,
      version text NOT NULL,
      title text NOT NULL,
      url text,
      chunks integer NOT NULL,
      terms bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (kb_id, doc_key)
    )`,
    `CREATE TABLE IF NOT EXISTS kb_chunks (
      id bigserial PRIMARY KEY,
      kb_id text NOT NULL,
      doc_key text NOT NULL,
      chunk_id text NOT NULL,
      ordinal integer NOT NULL,
      title text NOT NULL,
      section text,
      url text,
      text text NOT NULL,
      n_terms integer NOT NULL,
      embedding vector(${dimensions}) NOT NULL,
      UNIQUE (kb_id, doc_key, ordinal)
    )`,
    `CREATE TABLE IF NOT EXISTS kb_postings (
      kb_id text NOT NULL,
      term text COLLATE "C" NOT NULL,
      chunk_pk bigint NOT NULL,
      tf real NOT NULL,
      n_terms integer NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS kb_stats (
      kb_id text PRIMARY KEY,
      n_chunks bigint NOT NULL,
      sum_terms bigint NOT NULL
    )`,
    'CREATE INDEX IF NOT EXISTS kb_chunks_embedding_hnsw ON kb_chunks USING hnsw (embedding vector_cosine_ops)',
    'CREATE INDEX IF NOT EXISTS kb_postings_kb_term ON kb_postings (kb_id, term) INCLUDE (chunk_pk, tf, n_terms)',
    'CREATE INDEX IF NOT EXISTS kb_postings_chunk ON kb_postings (chunk_pk)',
  ];
}

/** The dimensions of an existing kb_chunks.embedding column (its typmod); no row when the table does not exist. */
export const EXISTING_DIMENSIONS_SQL = `SELECT a.atttypmod::int AS dimensions
  FROM pg_attribute a
  WHERE a.attrelid = to_regclass('kb_chunks') AND a.attname = 'embedding' AND NOT a.attisdropped`;

export const VECTOR_VERSION_SQL = `SELECT extversion AS version FROM pg_extension WHERE extname = 'vector'`;

/**
 * pgvector ≥ 0.8 can keep walking the HNSW graph until LIMIT rows pass the WHERE clause (`hnsw.iterative_scan`).
 * Without it a filtered search reads `hnsw.ef_search` (40) nearest chunks of ALL knowledge bases and drops those of
 * other kbs, so a small kb next to a large one finds few or none of its own chunks, and a LIMIT above 40 is never
 * filled. The setting is made the default of the store's database role (a role may set its own defaults; no
 * ownership of the database needed), for the sessions the Data API opens later, and set in the current session.
 */
export const ITERATIVE_SCAN_STATEMENTS = [
  `ALTER ROLE CURRENT_USER SET hnsw.iterative_scan = 'relaxed_order'`,
  `SELECT set_config('hnsw.iterative_scan', 'relaxed_order', false) AS iterative_scan`,
];

export const MIN_ITERATIVE_SCAN_VERSION = [0, 8, 0] as const;
