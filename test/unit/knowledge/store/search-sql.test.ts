import { searchStatement } from '#knowledge/store/search-sql';
import { scanParameters } from '#knowledge/store/sql-parameters';

const base = { kbIds: ["b-public'; DROP TABLE kb_chunks; --"], candidates: 50, k: 5 };

describe('searchStatement', () => {
  it('is nothing to run without terms and without a vector', () => {
    expect(searchStatement({ ...base, terms: [] })).toBeUndefined();
  });

  it.each([
    ['lexical', { terms: ['cache'] }],
    ['vector', { terms: [], vector: '[1,0]' }],
    ['hybrid', { terms: ['cache'], vector: '[1,0]' }],
  ])('%s: every value is a parameter used exactly once', (_name, variant) => {
    const statement = searchStatement({ ...base, ...variant });
    expect(statement).toBeDefined();
    const { sql, params } = statement!;
    const occurrences = new Map<number, number>();
    scanParameters(sql, params.length, (n) => {
      occurrences.set(n, (occurrences.get(n) ?? 0) + 1);
      return `$${n}`;
    });
    expect([...occurrences.values()].every((count) => count === 1)).toBe(true);
    expect(occurrences.size).toBe(params.length);
    expect(sql).not.toContain('DROP TABLE');
    expect(params).toContainEqual(base.kbIds);
  });

  it('restricts every list and the final join to the allowed kbs', () => {
    const { sql } = searchStatement({ ...base, terms: ['cache'], vector: '[1,0]' })!;
    // kb_stats, kb_postings, the vector list and the final join: four kb filters.
    expect(sql.match(/kb_id = ANY\(\$\d+::text\[\]\)/g)).toHaveLength(4);
  });
});
