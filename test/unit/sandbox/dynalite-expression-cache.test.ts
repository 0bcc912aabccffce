import conditionParser = require('dynalite/db/conditionParser');
import projectionParser = require('dynalite/db/projectionParser');
import updateParser = require('dynalite/db/updateParser');
import dynalitePackage = require('dynalite/package.json');

import {
  assertDynaliteVersion,
  type CacheEntry,
  cacheExpressionParsing,
  DYNALITE_VERSION,
  LruCache,
  memoizeParse,
  type Parse,
  type ParseContext,
} from '../../../sandbox/local-aws/dynalite-expression-cache';

/**
 * The memoized parse must give exactly what dynalite's own parser gives for the same request: the same tree (with
 * this request's values in it), the same error, the same placeholders marked used. Compared against the real
 * parsers, captured before `cacheExpressionParsing` replaces them.
 */
const original = {
  condition: conditionParser.parse as Parse,
  update: updateParser.parse as Parse,
  projection: projectionParser.parse as Parse,
};

type Values = Record<string, Record<string, unknown>>;

/** A context as dynalite's `validateExpressions` builds it. */
function contextOf(names: Record<string, string> | undefined, values: Values | undefined): ParseContext {
  return {
    attrNames: names,
    attrVals: values,
    unusedAttrNames: Object.fromEntries(Object.keys(names ?? {}).map((name) => [name, true])),
    unusedAttrVals: Object.fromEntries(Object.keys(values ?? {}).map((name) => [name, true])),
    isReserved: (name: string) => ['SIZE', 'STATUS', 'NAME'].includes(name.toUpperCase()),
    compare: (comparison: string, x: Record<string, string>, y: Record<string, string>) =>
      comparison === 'GT' && Number(x.N ?? x.S) > Number(y.N ?? y.S),
  };
}

/** What a parse returns or throws, and what it left unused. */
function outcome(parse: Parse, input: string, names?: Record<string, string>, values?: Values) {
  const context = contextOf(names, values);
  let result: unknown;
  try {
    result = parse(input, { context });
  } catch (err) {
    result = { thrown: (err as Error).name, message: (err as Error).message };
  }
  return { result, unusedNames: context.unusedAttrNames, unusedValues: context.unusedAttrVals };
}

function counting(parse: Parse): { parse: Parse; calls: () => number } {
  let calls = 0;
  return {
    parse: (input, options) => {
      calls += 1;
      return parse(input, options);
    },
    calls: () => calls,
  };
}

const memoized = (parse: Parse, max = 100) => {
  const counted = counting(parse);
  return { ...counted, parse: memoizeParse(counted.parse, new LruCache<CacheEntry>(max)) };
};

const CLAIM = '(attribute_not_exists(#s) OR #s = :pending) AND attempts = :attempts AND #lease < :now';
const CLAIM_NAMES = { '#s': 'status', '#lease': 'leaseUntil' };
const claimValues = (attempts: string, now: string): Values => ({
  ':pending': { S: 'pending' },
  ':attempts': { N: attempts },
  ':now': { N: now },
});

describe('memoizeParse', () => {
  it('parses a text once and answers later requests with their own values, as the parser would', () => {
    const cache = memoized(original.condition);
    const first = claimValues('0', '1000');
    const second = claimValues('3', '2000');

    expect(outcome(cache.parse, CLAIM, CLAIM_NAMES, first)).toStrictEqual(
      outcome(original.condition, CLAIM, CLAIM_NAMES, first),
    );
    const hit = outcome(cache.parse, CLAIM, CLAIM_NAMES, second);
    expect(hit).toStrictEqual(outcome(original.condition, CLAIM, CLAIM_NAMES, second));
    expect(cache.calls()).toBe(1);
    // The request's own value objects, by identity, where the parser puts them.
    const tree = JSON.stringify(hit.result);
    expect(tree).toContain('{"N":"3"}');
    expect(tree).not.toContain('{"N":"0"}');
  });

  it('gives every hit a fresh tree, so mutating one (as dynalite does to key conditions) spares the next', () => {
    const cache = memoized(original.condition);
    const values = { ':pk': { S: 'a' }, ':sk': { S: 'b' } };
    cache.parse('pk = :pk AND sk > :sk', { context: contextOf(undefined, values) });
    const hit = cache.parse('pk = :pk AND sk > :sk', { context: contextOf(undefined, values) }) as {
      expression: { type: string; args: unknown[] };
    };
    hit.expression.type = 'or';
    hit.expression.args.length = 0;
    expect(outcome(cache.parse, 'pk = :pk AND sk > :sk', undefined, values)).toStrictEqual(
      outcome(original.condition, 'pk = :pk AND sk > :sk', undefined, values),
    );
    expect(cache.calls()).toBe(1);
  });

  it('keeps null-prototype objects of the tree as they are (dynalite looks paths up in them)', () => {
    const cache = memoized(original.condition);
    cache.parse('attribute_exists(a.b)', { context: contextOf(undefined, undefined) });
    const hit = cache.parse('attribute_exists(a.b)', { context: contextOf(undefined, undefined) }) as {
      nestedPaths: object;
      pathHeads: object;
    };
    expect(Object.getPrototypeOf(hit.nestedPaths)).toBeNull();
    expect(Object.getPrototypeOf(hit.pathHeads)).toBeNull();
    expect(Object.keys(hit.pathHeads)).toEqual(['a']);
  });

  it('marks the same names and values used on a hit, so unused ones are still refused', () => {
    const cache = memoized(original.condition);
    const names = { ...CLAIM_NAMES, '#spare': 'x' };
    const values = { ...claimValues('1', '5'), ':spare': { S: 'y' } };
    cache.parse(CLAIM, { context: contextOf(names, values) });
    const hit = outcome(cache.parse, CLAIM, names, values);
    expect(hit.unusedNames).toStrictEqual({ '#spare': true });
    expect(hit.unusedValues).toStrictEqual({ ':spare': true });
    expect(hit).toStrictEqual(outcome(original.condition, CLAIM, names, values));
    expect(cache.calls()).toBe(1);
  });

  it('misses when the names differ, and resolves the new ones', () => {
    const cache = memoized(original.condition);
    const values = claimValues('1', '5');
    const other = { '#s': 'state', '#lease': 'until' };
    cache.parse(CLAIM, { context: contextOf(CLAIM_NAMES, values) });
    const result = outcome(cache.parse, CLAIM, other, values);
    expect(result).toStrictEqual(outcome(original.condition, CLAIM, other, values));
    expect(JSON.stringify(result.result)).toContain('"state"');
    expect(cache.calls()).toBe(2);
  });

  it("misses when a value's type differs: begins_with on a number is refused after one on a string passed", () => {
    const cache = memoized(original.condition);
    const text = 'begins_with(title, :prefix)';
    expect(typeof outcome(cache.parse, text, undefined, { ':prefix': { S: 'a' } }).result).toBe('object');
    const refused = outcome(cache.parse, text, undefined, { ':prefix': { N: '1' } });
    expect(refused.result).toBe(
      'Incorrect operand type for operator or function; operator or function: begins_with, operand type: N',
    );
    expect(refused).toStrictEqual(outcome(original.condition, text, undefined, { ':prefix': { N: '1' } }));
    expect(cache.calls()).toBe(2);
  });

  it('misses when a placeholder is missing, and answers the parser’s error', () => {
    const cache = memoized(original.condition);
    cache.parse('a = :x', { context: contextOf(undefined, { ':x': { S: '1' } }) });
    const missing = outcome(cache.parse, 'a = :x', undefined, { ':y': { S: '1' } });
    expect(missing.result).toBe('An expression attribute value used in expression is not defined; attribute value: :x');
    expect(missing).toStrictEqual(outcome(original.condition, 'a = :x', undefined, { ':y': { S: '1' } }));
  });

  it('never caches BETWEEN or attribute_type, whose checks read the values themselves', () => {
    const cache = memoized(original.condition);
    const between = 'n BeTwEeN :low AND :high';
    expect(typeof outcome(cache.parse, between, undefined, { ':low': { N: '1' }, ':high': { N: '2' } }).result).toBe(
      'object',
    );
    const reversed = { ':low': { N: '5' }, ':high': { N: '2' } };
    expect(outcome(cache.parse, between, undefined, reversed)).toStrictEqual(
      outcome(original.condition, between, undefined, reversed),
    );
    expect(outcome(cache.parse, between, undefined, reversed).result).toMatch(/requires upper bound/);

    const typed = 'attribute_type(a, :t)';
    outcome(cache.parse, typed, undefined, { ':t': { S: 'N' } });
    expect(outcome(cache.parse, typed, undefined, { ':t': { S: 'X' } }).result).toMatch(/Invalid attribute type/);
    expect(cache.calls()).toBe(5);
  });

  it('does not cache errors: a syntax error is thrown by the parser every time', () => {
    const cache = memoized(original.condition);
    const first = outcome(cache.parse, 'a = = :x', undefined, { ':x': { S: '1' } });
    expect(first.result).toMatchObject({ thrown: 'SyntaxError' });
    expect(outcome(cache.parse, 'a = = :x', undefined, { ':x': { S: '1' } })).toStrictEqual(first);
    expect(cache.calls()).toBe(2);
  });

  it('does not cache a value with a member that is not a type (nothing dynalite should have let through)', () => {
    const cache = memoized(original.condition);
    const odd = { ':x': { S: '1', attrType: 'N' } };
    cache.parse('a = :x', { context: contextOf(undefined, odd) });
    cache.parse('a = :x', { context: contextOf(undefined, odd) });
    expect(cache.calls()).toBe(2);
  });

  it('does not cache when two placeholders share one value object (a copy could not keep them apart)', () => {
    const cache = memoized(original.condition);
    const shared = { S: 'same' };
    const values = { ':a': shared, ':b': shared };
    const first = outcome(cache.parse, 'x = :a AND y = :b', undefined, values);
    expect(outcome(cache.parse, 'x = :a AND y = :b', undefined, values)).toStrictEqual(first);
    expect(cache.calls()).toBe(2);
  });

  it('memoizes update expressions with their value types and functions', () => {
    const cache = memoized(original.update);
    const text = 'SET #s = :s, turns = list_append(if_not_exists(turns, :empty), :turn) ADD attempts :one REMOVE lease';
    const names = { '#s': 'status' };
    const valuesOf = (status: string, turn: string): Values => ({
      ':s': { S: status },
      ':empty': { L: [] },
      ':turn': { L: [{ S: turn }] },
      ':one': { N: '1' },
    });
    cache.parse(text, { context: contextOf(names, valuesOf('claimed', 'hello')) });
    const hit = outcome(cache.parse, text, names, valuesOf('replied', 'again'));
    expect(hit).toStrictEqual(outcome(original.update, text, names, valuesOf('replied', 'again')));
    expect(JSON.stringify(hit.result)).toContain('"again"');
    expect(cache.calls()).toBe(1);
    // dynalite's update tree lists each path in its section and in `paths`: one array, reached twice, as parsed.
    const tree = hit.result as { sections: { path: unknown }[]; paths: unknown[] };
    expect(tree.sections[0]?.path).toBe(tree.paths[0]);

    const wrongType = { ...valuesOf('x', 'y'), ':one': { S: '1' } };
    expect(outcome(cache.parse, text, names, wrongType)).toStrictEqual(
      outcome(original.update, text, names, wrongType),
    );
    expect(outcome(cache.parse, text, names, wrongType).result).toMatch(/operand type: STRING/);
  });

  it('memoizes projection expressions', () => {
    const cache = memoized(original.projection);
    const names = { '#n': 'name' };
    cache.parse('pk, #n, history[0].text', { context: contextOf(names, undefined) });
    expect(outcome(cache.parse, 'pk, #n, history[0].text', names)).toStrictEqual(
      outcome(original.projection, 'pk, #n, history[0].text', names),
    );
    expect(cache.calls()).toBe(1);
  });

  it('does not cache a tree holding a function (no dynalite parser builds one)', () => {
    const cache = memoized(() => ({ check: () => true }));
    cache.parse('a = :x', { context: contextOf(undefined, { ':x': { S: '1' } }) });
    cache.parse('a = :x', { context: contextOf(undefined, { ':x': { S: '1' } }) });
    expect(cache.calls()).toBe(2);
  });

  it('passes a parse without a context or with a start rule straight to the parser', () => {
    const cache = memoized(original.condition);
    expect(() => cache.parse('a = :x')).toThrow();
    cache.parse('a = :x', { context: contextOf(undefined, { ':x': { S: '1' } }), startRule: 'Start' });
    cache.parse('a = :x', { context: contextOf(undefined, { ':x': { S: '1' } }), startRule: 'Start' });
    expect(cache.calls()).toBe(3);
  });
});

describe('LruCache', () => {
  it('forgets the least recently used entry beyond its size', () => {
    const lru = new LruCache<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
    expect(lru.size).toBe(2);
  });

  it('parses an evicted expression again', () => {
    const cache = memoized(original.condition, 1);
    const context = () => contextOf(undefined, { ':x': { S: '1' } });
    cache.parse('a = :x', { context: context() });
    cache.parse('b = :x', { context: context() });
    cache.parse('b = :x', { context: context() });
    expect(cache.calls()).toBe(2);
    cache.parse('a = :x', { context: context() });
    expect(cache.calls()).toBe(3);
  });
});

describe('cacheExpressionParsing', () => {
  it('is checked against the installed dynalite: an upgrade fails here until the rules are read again', () => {
    expect(dynalitePackage.version).toBe(DYNALITE_VERSION);
    expect(() => assertDynaliteVersion(DYNALITE_VERSION)).not.toThrow();
    expect(() => assertDynaliteVersion('4.0.1')).toThrow(/dynalite 4\.0\.0's parsers, found 4\.0\.1/);
  });

  it("replaces dynalite's three parsers once, and they still parse", () => {
    cacheExpressionParsing();
    const installed = conditionParser.parse;
    cacheExpressionParsing();
    expect(conditionParser.parse).toBe(installed);
    expect(conditionParser.parse).not.toBe(original.condition);
    expect(updateParser.parse).not.toBe(original.update);
    expect(projectionParser.parse).not.toBe(original.projection);
    const values = claimValues('2', '9');
    expect(outcome(conditionParser.parse as Parse, CLAIM, CLAIM_NAMES, values)).toStrictEqual(
      outcome(original.condition, CLAIM, CLAIM_NAMES, values),
    );
  });
});
