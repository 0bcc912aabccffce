import conditionParser = require('dynalite/db/conditionParser');
import projectionParser = require('dynalite/db/projectionParser');
import updateParser = require('dynalite/db/updateParser');
import dynalitePackage = require('dynalite/package.json');

/**
 * Memoizes dynalite's expression parsing (Condition, Filter, KeyCondition, Update and Projection expressions), which
 * was about a quarter of dynalite's CPU time per call in the worker bench: its PEG parsers run on every request,
 * though a store sends the same few expression texts again and again with new values.
 *
 * What a parse depends on, read from dynalite 4.0.0's generated parsers (`db/*Parser.js`): the expression text, the
 * ExpressionAttributeNames (resolved into the tree as strings), and of the ExpressionAttributeValues only which
 * placeholders exist and each value's type letters (`getType`/`getImmediateType`); the values themselves are put into
 * the tree by reference. Two checks read a value's content: BETWEEN's bound order and `attribute_type`'s type name;
 * expressions containing either word are never cached. So each parser's cache is keyed by the text, the names and
 * the values' placeholders with their types, and an entry is the parse tree with each value replaced by a slot naming
 * its placeholder, filled with this request's values on a hit: the tree a parse would have built, built again.
 * Every hit is a fresh copy (dynalite mutates KeyCondition trees), and it marks the same placeholders used
 * (`unusedAttrNames`/`unusedAttrVals`, dynalite's "unused in expressions" check) as the parse did. Parse errors are
 * not cached; they are parsed again each time.
 */
export const DYNALITE_VERSION = '4.0.0';

/** Distinct expressions kept; a store sends a few dozen. */
const MAX_ENTRIES = 1_000;

/** dynalite's parse context, as `validations/index.js` builds it. */
export interface ParseContext {
  readonly attrNames?: Readonly<Record<string, unknown>> | null;
  readonly attrVals?: Readonly<Record<string, unknown>> | null;
  readonly unusedAttrNames?: Record<string, unknown> | null;
  readonly unusedAttrVals?: Record<string, unknown> | null;
  readonly [other: string]: unknown;
}

export interface ParseOptions {
  readonly context?: ParseContext;
  readonly startRule?: string;
}

export type Parse = (input: string, options?: ParseOptions) => unknown;

interface Parser {
  parse: Parse;
}

/** The words of the two checks that read a value's content (case-insensitive, as DynamoDB's keywords are). */
const READS_VALUE_CONTENT = /between|attribute_type/i;
const TYPE_LETTERS = new Set(['S', 'N', 'B', 'NULL', 'BOOL', 'SS', 'NS', 'BS', 'L', 'M']);

let installed = false;

/**
 * Puts the memoized parse in place of dynalite's three parsers, once per module registry. Throws on any dynalite
 * other than the version these rules were read from, so an upgrade fails loudly instead of caching wrongly.
 */
export function cacheExpressionParsing(): void {
  if (installed) return;
  assertDynaliteVersion(dynalitePackage.version);
  const parsers: readonly [string, Parser][] = [
    ['condition', conditionParser],
    ['update', updateParser],
    ['projection', projectionParser],
  ];
  for (const [name, parser] of parsers) {
    if (typeof parser.parse !== 'function') throw new Error(`dynalite's ${name} parser has no parse function`);
    parser.parse = memoizeParse(parser.parse, new LruCache(MAX_ENTRIES));
  }
  installed = true;
}

export function assertDynaliteVersion(version: string): void {
  if (version !== DYNALITE_VERSION) {
    throw new Error(
      `dynalite-expression-cache: its rules were read from dynalite ${DYNALITE_VERSION}'s parsers, found ${version}; ` +
        'check what its parsers read from ExpressionAttributeValues, then update DYNALITE_VERSION',
    );
  }
}

export interface CacheEntry {
  /** The parse tree with a `Slot` for every value. */
  readonly tree: unknown;
  readonly usedNames: readonly string[];
  readonly usedValues: readonly string[];
}

/** Where a request's value goes into a cached tree. */
class Slot {
  constructor(readonly placeholder: string) {}
}

/** `parse` with its successful results cached in `cache` (see the module comment for the key and what a hit gives). */
export function memoizeParse(parse: Parse, cache: LruCache<CacheEntry>): Parse {
  return (input, options) => {
    const context = options?.context;
    if (context === undefined || options?.startRule !== undefined || READS_VALUE_CONTENT.test(input)) {
      return parse(input, options);
    }
    const values = context.attrVals ?? {};
    const key = cacheKey(input, context.attrNames, values);
    if (key === undefined) return parse(input, options);
    const hit = cache.get(key);
    if (hit) {
      markUsed(context, hit.usedNames, hit.usedValues);
      return instantiate(hit.tree, values);
    }
    // Parsed against unused sets of its own, which it empties of exactly the placeholders it uses.
    const probe = {
      ...context,
      unusedAttrNames: Object.fromEntries(Object.keys(context.attrNames ?? {}).map((name) => [name, true])),
      unusedAttrVals: Object.fromEntries(Object.keys(values).map((name) => [name, true])),
    };
    let result: unknown;
    let usedNames: string[] = [];
    let usedValues: string[] = [];
    try {
      result = parse(input, { ...options, context: probe });
    } finally {
      usedNames = removedFrom(context.attrNames, probe.unusedAttrNames);
      usedValues = removedFrom(values, probe.unusedAttrVals);
      markUsed(context, usedNames, usedValues);
    }
    // A string is dynalite's validation message for the expression.
    if (typeof result !== 'string') {
      const tree = templateOf(result, values);
      if (tree !== undefined) cache.set(key, { tree, usedNames, usedValues });
    }
    return result;
  };
}

/**
 * The text, the names, and each value's placeholder with its type letters (and which of them are null, which
 * `getImmediateType` tells apart). Undefined when a value has a member that is not a type letter: nothing is
 * cached for what dynalite's validation should have refused.
 */
function cacheKey(
  input: string,
  names: ParseContext['attrNames'],
  values: Readonly<Record<string, unknown>>,
): string | undefined {
  const types: string[] = [];
  for (const [placeholder, value] of Object.entries(values)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const letters: string[] = [];
    for (const [letter, member] of Object.entries(value)) {
      if (!TYPE_LETTERS.has(letter)) return undefined;
      letters.push(member == null ? `${letter}?` : letter);
    }
    types.push(`${placeholder}=${letters.join(',')}`);
  }
  return `${input}\u0000${JSON.stringify(names ?? null)}\u0000${types.join(';')}`;
}

function removedFrom(all: Readonly<Record<string, unknown>> | null | undefined, unused: object): string[] {
  return Object.keys(all ?? {}).filter((name) => !Object.hasOwn(unused, name));
}

function markUsed(context: ParseContext, names: readonly string[], values: readonly string[]): void {
  for (const name of names) if (context.unusedAttrNames) delete context.unusedAttrNames[name];
  for (const name of values) if (context.unusedAttrVals) delete context.unusedAttrVals[name];
}

/**
 * The tree with every value object (found by identity) replaced by its slot, copied; a node the tree reaches twice
 * (dynalite's update trees list each path twice) is copied once and reached twice in the copy too. Undefined, and
 * so not cached, for anything but plain objects, arrays and primitives, or when two placeholders share one value
 * object: shapes a copy could not reproduce exactly.
 */
function templateOf(tree: unknown, values: Readonly<Record<string, unknown>>): unknown {
  const slots = new Map<unknown, Slot>();
  for (const [placeholder, value] of Object.entries(values)) {
    if (slots.has(value)) return undefined;
    slots.set(value, new Slot(placeholder));
  }
  let copyable = true;
  const template = copyTree(tree, (node) => {
    if (typeof node === 'function') copyable = false;
    const slot = slots.get(node);
    if (slot) return slot;
    const prototype: unknown = Object.getPrototypeOf(node);
    if (!Array.isArray(node) && prototype !== Object.prototype && prototype !== null) copyable = false;
    return undefined;
  });
  return copyable ? template : undefined;
}

/** A fresh tree from a template: new arrays and objects (same prototypes, same sharing), the request's values in the slots. */
function instantiate(template: unknown, values: Readonly<Record<string, unknown>>): unknown {
  return copyTree(template, (node) => (node instanceof Slot ? values[node.placeholder] : undefined));
}

/**
 * A deep copy of arrays and objects (each keeps its prototype, each node copied once however often it is reached);
 * `replace` answers a node's stand-in instead, or undefined to copy it (a function is kept as it is).
 */
function copyTree(tree: unknown, replace: (node: object) => unknown): unknown {
  const copies = new Map<object, unknown>();
  const copy = (node: unknown): unknown => {
    if (typeof node === 'function') return replace(node) ?? node;
    if (typeof node !== 'object' || node === null) return node;
    if (copies.has(node)) return copies.get(node);
    const replaced = replace(node);
    if (replaced !== undefined) return replaced;
    if (Array.isArray(node)) {
      const array: unknown[] = [];
      copies.set(node, array);
      for (const member of node) array.push(copy(member));
      return array;
    }
    const object: Record<string, unknown> = Object.create(Object.getPrototypeOf(node) as object | null);
    copies.set(node, object);
    for (const [name, member] of Object.entries(node)) object[name] = copy(member);
    return object;
  };
  return copy(tree);
}

/** A map that forgets its least recently used entry beyond `max`. */
export class LruCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
}
