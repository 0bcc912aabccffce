import { SqlClientError } from './sql-client';

/**
 * Finds the positional parameters (`$1`..`$n`) of one SQL statement, outside string literals ('…', E'…' with
 * backslash escapes, $tag$…$tag$), quoted identifiers ("…") and comments (-- and nested block comments), and renames them:
 * the Data API takes named parameters (`:p1`), PostgreSQL and PGlite positional ones. `::` casts stay as they are
 * (the Data API reads `:p1::text[]` as parameter p1 cast to text[]).
 *
 * Both SQL clients check the statement the same way, so a statement accepted locally is accepted in AWS:
 * every `$n` has a value (1 ≤ n ≤ paramCount), every value is used, and the SQL has no `:name` of its own (the Data
 * API would take it for a named parameter).
 */

export interface ParameterScan {
  /** The statement with each `$n` replaced by `rename(n)`. */
  readonly sql: string;
  /** The parameter numbers used, ascending, each once. */
  readonly used: readonly number[];
}

const isIdentifierChar = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}_$]/u.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const DOLLAR_TAG = /^\$(?:[\p{L}_][\p{L}\p{N}_]*)?\$/u;
const NAMED_PARAMETER = /^:[\p{L}_]/u;

/** The index just past a quoted run starting at `start` (the opening quote), with `quote` doubled as its escape. */
function endOfQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  for (let i = start + 1; i < sql.length; i++) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') {
      i++;
    } else if (c === quote) {
      if (sql[i + 1] === quote) i++;
      else return i + 1;
    }
  }
  throw new SqlClientError(
    'invalid_parameter',
    `Unterminated ${quote === "'" ? 'string literal' : 'quoted identifier'} in SQL.`,
  );
}

function endOfBlockComment(sql: string, start: number): number {
  let depth = 0;
  for (let i = start; i < sql.length - 1; i++) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i++;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  throw new SqlClientError('invalid_parameter', 'Unterminated /* comment in SQL.');
}

export function scanParameters(sql: string, paramCount: number, rename: (n: number) => string): ParameterScan {
  let out = '';
  let copiedUpTo = 0;
  const used = new Set<number>();
  for (let i = 0; i < sql.length; ) {
    const c = sql[i]!;
    const previous = sql[i - 1];
    let end = i + 1;
    if (c === "'") {
      const escaped = (previous === 'E' || previous === 'e') && !isIdentifierChar(sql[i - 2]);
      end = endOfQuoted(sql, i, "'", escaped);
    } else if (c === '"') {
      end = endOfQuoted(sql, i, '"', false);
    } else if (c === '-' && sql[i + 1] === '-') {
      const newline = sql.indexOf('\n', i);
      end = newline === -1 ? sql.length : newline + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      end = endOfBlockComment(sql, i);
    } else if (c === '$' && !isIdentifierChar(previous)) {
      if (isDigit(sql[i + 1])) {
        while (isDigit(sql[end])) end++;
        const n = Number(sql.slice(i + 1, end));
        if (!(n >= 1 && n <= paramCount)) {
          throw new SqlClientError(
            'invalid_parameter',
            `SQL uses $${n} but ${paramCount} parameter${paramCount === 1 ? '' : 's'} were given.`,
          );
        }
        used.add(n);
        out += sql.slice(copiedUpTo, i) + rename(n);
        copiedUpTo = end;
      } else {
        const tag = DOLLAR_TAG.exec(sql.slice(i))?.[0];
        if (tag !== undefined) {
          const close = sql.indexOf(tag, i + tag.length);
          if (close === -1) throw new SqlClientError('invalid_parameter', `Unterminated ${tag} quote in SQL.`);
          end = close + tag.length;
        }
      }
    } else if (c === ':' && previous !== ':' && NAMED_PARAMETER.test(sql.slice(i, i + 2))) {
      throw new SqlClientError(
        'invalid_parameter',
        `SQL contains "${sql.slice(i, i + 20).split(/\s/)[0]}", which the Data API would read as a named parameter.`,
      );
    }
    i = end;
  }
  for (let n = 1; n <= paramCount; n++) {
    if (!used.has(n))
      throw new SqlClientError('invalid_parameter', `Parameter $${n} is given but the SQL never uses it.`);
  }
  return { sql: out + sql.slice(copiedUpTo), used: [...used].sort((a, b) => a - b) };
}
