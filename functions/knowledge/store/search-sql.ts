import type { SqlParam } from './sql-client';

/**
 * The hybrid search as ONE statement: lexical BM25 over the postings and vector cosine over the embeddings, each cut
 * to `candidates`, fused by Reciprocal Rank Fusion, joined to the chunks for the final k. One statement is one Data
 * API round trip (each costs tens of milliseconds) and only the k hits' text crosses the wire, which is why the
 * fusion is in SQL rather than in TypeScript.
 *
 * Every list is restricted to the allowed kbs in SQL, and BM25's statistics come from those kbs only: N and the
 * average length from kb_stats of the allowed kbs, each term's document frequency counted over their postings. So one
 * kb's corpus never moves another's ranking and nothing of a kb outside the list reaches the result or its scores.
 *
 * BM25 as bm25.ts: idf = ln(1 + (N − df + 0.5)/(df + 0.5)), score term = idf · tf · (k1 + 1) / (tf + k1 · (1 − b +
 * b · len/avgLen)), k1 = 1.2, b = 0.75 (avgLen 0 → the length term is 0). RRF: Σ 1/(60 + rank) over the lists a
 * chunk is in. Ties are broken deterministically: lists by chunk id (insertion order), the fused list by the best
 * lexical rank, then vector rank, then chunk id.
 *
 * Each list is cut before it is ranked (a top-N sort of the scored chunks, not a full one). The vector list orders by
 * distance alone so the HNSW index can serve it (a second ORDER BY key would prevent that); its ranks then break
 * equal distances by chunk id. A term's document frequency is a window count over the same postings scan that
 * scores it: one read of the postings, measured faster on PGlite than a separate GROUP BY scan joined back.
 *
 * Values only ever travel as parameters; a value used twice is passed twice (sql-client.ts).
 */

export interface SearchStatementInput {
  readonly kbIds: readonly string[];
  /** Distinct query terms; empty → no lexical list. */
  readonly terms: readonly string[];
  /** pgvector text of the query embedding; absent → no vector list. */
  readonly vector?: string;
  readonly candidates: number;
  readonly k: number;
}

/** A result row, as the statement names its columns. */
export interface SearchRow extends Record<string, unknown> {
  readonly kb_id: string;
  readonly doc_key: string;
  readonly chunk_id: string;
  readonly title: string;
  readonly section: string | null;
  readonly url: string | null;
  readonly text: string;
  readonly score: number;
  readonly lexical_rank: number | null;
  readonly lexical_score: number | null;
  readonly vector_rank: number | null;
  readonly similarity: number | null;
}

/** Collects parameter values in order and hands out their `$n`. */
class Params {
  readonly values: SqlParam[] = [];
  add(value: SqlParam): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

function lexicalCtes(p: Params, input: SearchStatementInput): string {
  return `lexical_stats AS (
    SELECT coalesce(sum(n_chunks), 0)::float8 AS n, coalesce(sum(sum_terms), 0)::float8 AS total
    FROM kb_stats WHERE kb_id = ANY(${p.add(input.kbIds)}::text[])
  ),
  lexical_matches AS (
    SELECT chunk_pk, tf::float8 AS tf, n_terms::float8 AS len, count(*) OVER (PARTITION BY term)::float8 AS df
    FROM kb_postings
    WHERE kb_id = ANY(${p.add(input.kbIds)}::text[]) AND term = ANY(${p.add(input.terms)}::text[])
  ),
  lexical_scores AS (
    SELECT m.chunk_pk,
      sum(ln(1 + (s.n - m.df + 0.5) / (m.df + 0.5)) * m.tf * (1.2 + 1)
        / (m.tf + 1.2 * (1 - 0.75 + CASE WHEN s.total > 0 THEN 0.75 * m.len * s.n / s.total ELSE 0 END))) AS score
    FROM lexical_matches m CROSS JOIN lexical_stats s
    GROUP BY m.chunk_pk
  ),
  lexical_top AS (
    SELECT chunk_pk, score FROM lexical_scores ORDER BY score DESC, chunk_pk LIMIT ${p.add(input.candidates)}
  ),
  lexical AS (
    SELECT chunk_pk, score, row_number() OVER (ORDER BY score DESC, chunk_pk) AS rank FROM lexical_top
  )`;
}

function vectorCtes(p: Params, input: SearchStatementInput, vector: string): string {
  return `vector_nearest AS (
    SELECT id AS chunk_pk, embedding <=> ${p.add(vector)}::vector AS distance
    FROM kb_chunks
    WHERE kb_id = ANY(${p.add(input.kbIds)}::text[])
    ORDER BY distance
    LIMIT ${p.add(input.candidates)}
  ),
  vector AS (
    SELECT chunk_pk, distance, row_number() OVER (ORDER BY distance, chunk_pk) AS rank
    FROM vector_nearest
  )`;
}

const FUSED_HYBRID = `fused AS (
    SELECT chunk_pk, l.rank AS lexical_rank, l.score AS lexical_score, v.rank AS vector_rank, v.distance,
      coalesce(1::float8 / (60 + l.rank), 0) + coalesce(1::float8 / (60 + v.rank), 0) AS score
    FROM lexical l FULL JOIN vector v USING (chunk_pk)
  )`;
const FUSED_LEXICAL = `fused AS (
    SELECT chunk_pk, rank AS lexical_rank, score AS lexical_score, NULL::bigint AS vector_rank,
      NULL::float8 AS distance, 1::float8 / (60 + rank) AS score
    FROM lexical
  )`;
const FUSED_VECTOR = `fused AS (
    SELECT chunk_pk, NULL::bigint AS lexical_rank, NULL::float8 AS lexical_score, rank AS vector_rank, distance,
      1::float8 / (60 + rank) AS score
    FROM vector
  )`;

/** The statement and its parameters; undefined when there is nothing to search for (no terms, no vector). */
export function searchStatement(input: SearchStatementInput): { sql: string; params: SqlParam[] } | undefined {
  const lexical = input.terms.length > 0;
  const vector = input.vector;
  if (!lexical && vector === undefined) return undefined;
  const p = new Params();
  const ctes: string[] = [];
  if (lexical) ctes.push(lexicalCtes(p, input));
  if (vector !== undefined) ctes.push(vectorCtes(p, input, vector));
  ctes.push(lexical && vector !== undefined ? FUSED_HYBRID : lexical ? FUSED_LEXICAL : FUSED_VECTOR);
  const sql = `WITH ${ctes.join(',\n  ')}
  SELECT c.kb_id, c.doc_key, c.chunk_id, c.title, c.section, c.url, c.text,
    f.score, f.lexical_rank::int AS lexical_rank, f.lexical_score, f.vector_rank::int AS vector_rank,
    (1 - f.distance)::float8 AS similarity
  FROM fused f JOIN kb_chunks c ON c.id = f.chunk_pk
  WHERE c.kb_id = ANY(${p.add(input.kbIds)}::text[])
  ORDER BY f.score DESC, f.lexical_rank ASC NULLS LAST, f.vector_rank ASC NULLS LAST, f.chunk_pk
  LIMIT ${p.add(input.k)}`;
  return { sql, params: p.values };
}
