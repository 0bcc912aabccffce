import { SqlClientError } from '#knowledge/store/sql-client';
import { scanParameters } from '#knowledge/store/sql-parameters';

const named = (sql: string, count: number) => scanParameters(sql, count, (n) => `:p${n}`);

function scanError(sql: string, count: number): SqlClientError {
  try {
    named(sql, count);
  } catch (error) {
    if (error instanceof SqlClientError) return error;
    throw error;
  }
  throw new Error('expected a SqlClientError');
}

describe('scanParameters', () => {
  it('renames positional parameters and keeps casts', () => {
    const scan = named('SELECT * FROM t WHERE a = ANY($1::text[]) AND b = $2 LIMIT $3', 3);
    expect(scan.sql).toBe('SELECT * FROM t WHERE a = ANY(:p1::text[]) AND b = :p2 LIMIT :p3');
    expect(scan.used).toEqual([1, 2, 3]);
  });

  it('reads $10 as parameter ten, not $1 followed by 0', () => {
    const sql = 'SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10';
    expect(named(sql, 10).sql).toBe('SELECT :p1, :p2, :p3, :p4, :p5, :p6, :p7, :p8, :p9, :p10');
  });

  it('renames a parameter used twice at both places', () => {
    expect(named('SELECT $1 = $1 AS same', 1).sql).toBe('SELECT :p1 = :p1 AS same');
  });

  it('leaves $n inside literals, quoted identifiers and comments alone', () => {
    const sql = [
      "SELECT 'costs $1' AS a,",
      "E'it\\'s $1' AS b,",
      "'it''s $1' AS c,",
      '"col$1" AS d,',
      '$tag$ body $1 $tag$ AS e,',
      '$$ plain $1 $$ AS f, -- comment $1',
      '/* outer /* inner $1 */ still comment $1 */ $1 AS g',
    ].join('\n');
    const scan = named(sql, 1);
    expect(scan.sql).toBe(sql.replace(/\$1 AS g$/, ':p1 AS g'));
    expect(scan.used).toEqual([1]);
  });

  it('does not take a dollar inside an identifier for a parameter', () => {
    expect(named('SELECT a$1 FROM t WHERE x = $1', 1).sql).toBe('SELECT a$1 FROM t WHERE x = :p1');
  });

  it('refuses a $n without a value and a value the SQL never uses', () => {
    expect(scanError('SELECT $2', 1).message).toBe('SQL uses $2 but 1 parameter were given.');
    expect(scanError('SELECT $0', 1).code).toBe('invalid_parameter');
    expect(scanError('SELECT $1', 2).message).toBe('Parameter $2 is given but the SQL never uses it.');
  });

  it('refuses a :name of the SQL itself, which the Data API would take for a parameter', () => {
    expect(scanError('SELECT :id FROM t', 0).message).toContain(':id');
    expect(named("SELECT ':id' AS literal, x::text FROM t", 0).sql).toBe("SELECT ':id' AS literal, x::text FROM t");
  });

  it('refuses unterminated literals, identifiers, comments and dollar quotes', () => {
    for (const sql of ["SELECT 'open", 'SELECT "open', 'SELECT /* open', 'SELECT $q$ open']) {
      expect(scanError(sql, 0).code).toBe('invalid_parameter');
    }
  });
});
