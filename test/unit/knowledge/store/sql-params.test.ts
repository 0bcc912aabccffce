import { SqlClientError } from '#knowledge/store/sql-client';
import { textArrayLiteral, toWireParam, toWireParams } from '#knowledge/store/sql-params';

describe('textArrayLiteral', () => {
  it('quotes every element and escapes quotes and backslashes', () => {
    expect(textArrayLiteral(['a', 'b c', 'x"y', 'back\\slash'])).toBe('{"a","b c","x\\"y","back\\\\slash"}');
  });

  it('keeps commas, braces, NULL and CJK inside the quotes', () => {
    expect(textArrayLiteral(['a,b', '{c}', 'NULL', '配置'])).toBe('{"a,b","{c}","NULL","配置"}');
  });

  it('writes an empty array and an empty string distinctly', () => {
    expect(textArrayLiteral([])).toBe('{}');
    expect(textArrayLiteral([''])).toBe('{""}');
  });
});

describe('toWireParam', () => {
  it('types values as the Data API sends them', () => {
    expect(toWireParams(['kb', 42, 0.5, true, null])).toEqual([
      { kind: 'string', value: 'kb' },
      { kind: 'long', value: 42 },
      { kind: 'double', value: 0.5 },
      { kind: 'boolean', value: true },
      { kind: 'null' },
    ]);
  });

  it('sends a string array as the text of an array literal', () => {
    expect(toWireParam(['a', 'b"'], 1)).toEqual({ kind: 'string', value: '{"a","b\\""}' });
  });

  it.each([
    ['a NUL in a string', 'a\u0000b'],
    ['a NUL in an array element', ['ok', 'a\u0000b']],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an integer beyond 2^53', 2 ** 60],
  ])('refuses %s with invalid_parameter naming the position', (_name, value) => {
    let caught: unknown;
    try {
      toWireParam(value, 3);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SqlClientError);
    expect((caught as SqlClientError).code).toBe('invalid_parameter');
    expect((caught as SqlClientError).message).toContain('$3');
  });
});
