import { SqlClientError, type SqlParam } from './sql-client';

/**
 * How a `SqlParam` travels, shared by both SQL clients so they send the same thing (the convention is in
 * sql-client.ts): its wire kind (the Data API's Field member, PGlite's declared parameter type) and its value.
 */
export type WireParam =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'long'; readonly value: number }
  | { readonly kind: 'double'; readonly value: number }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' };

const NUL = '\u0000';

/**
 * A PostgreSQL array literal of text elements: every element double-quoted, `"` and `\` backslash-escaped, so commas,
 * braces, spaces, `NULL` and any Unicode text come back as the same strings from `$n::text[]`.
 */
export function textArrayLiteral(values: readonly string[]): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) literal += ',';
    literal += `"${values[i]!.replace(/["\\]/g, '\\$&')}"`;
  }
  return `${literal}}`;
}

function checkedString(value: string, position: number): string {
  if (value.includes(NUL)) {
    throw new SqlClientError(
      'invalid_parameter',
      `Parameter $${position} contains a NUL character, which PostgreSQL text cannot hold; strip it before the query.`,
    );
  }
  return value;
}

/** The wire form of parameter `$position`; a value that cannot be sent → SqlClientError('invalid_parameter'). */
export function toWireParam(param: SqlParam, position: number): WireParam {
  if (param === null) return { kind: 'null' };
  if (typeof param === 'string') return { kind: 'string', value: checkedString(param, position) };
  if (typeof param === 'boolean') return { kind: 'boolean', value: param };
  if (typeof param === 'number') {
    if (!Number.isFinite(param)) {
      throw new SqlClientError(
        'invalid_parameter',
        `Parameter $${position} is ${param}; only finite numbers are sent.`,
      );
    }
    if (!Number.isInteger(param)) return { kind: 'double', value: param };
    if (!Number.isSafeInteger(param)) {
      throw new SqlClientError(
        'invalid_parameter',
        `Parameter $${position} is ${param}, beyond ±2^53: it would not arrive exactly; send it as a string and cast it.`,
      );
    }
    return { kind: 'long', value: param };
  }
  param.forEach((element, index) => {
    if (element.includes(NUL)) {
      throw new SqlClientError(
        'invalid_parameter',
        `Parameter $${position}, element ${index}, contains a NUL character, which PostgreSQL text cannot hold.`,
      );
    }
  });
  return { kind: 'string', value: textArrayLiteral(param) };
}

export function toWireParams(params: readonly SqlParam[]): WireParam[] {
  return params.map((param, index) => toWireParam(param, index + 1));
}
