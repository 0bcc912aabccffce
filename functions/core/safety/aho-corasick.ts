/**
 * Aho–Corasick multi-pattern matcher over UTF-16 units. Building is O(total pattern length); a search is
 * O(text length + number of matches) whatever the number of patterns, so a lexicon of thousands of terms costs
 * the same per message as a handful.
 */

export interface PatternHit {
  /** Index of the pattern in the array given to `buildAutomaton`. */
  readonly pattern: number;
  /** Offsets in the searched text: `start` inclusive, `end` exclusive. */
  readonly start: number;
  readonly end: number;
}

interface AutomatonNode {
  readonly next: Map<number, number>;
  fail: number;
  /** Patterns ending here, own first, then those reached through the fail chain (merged at build time). */
  outputs: number[];
}

export interface Automaton {
  readonly nodes: readonly AutomatonNode[];
  readonly lengths: readonly number[];
}

export function buildAutomaton(patterns: readonly string[]): Automaton {
  const nodes: AutomatonNode[] = [{ next: new Map(), fail: 0, outputs: [] }];
  patterns.forEach((pattern, index) => {
    let state = 0;
    for (let i = 0; i < pattern.length; i++) {
      const code = pattern.charCodeAt(i);
      let target = nodes[state]!.next.get(code);
      if (target === undefined) {
        target = nodes.length;
        nodes.push({ next: new Map(), fail: 0, outputs: [] });
        nodes[state]!.next.set(code, target);
      }
      state = target;
    }
    nodes[state]!.outputs.push(index);
  });
  // Breadth-first, so every fail target is complete before its dependants.
  const queue: number[] = [...nodes[0]!.next.values()];
  for (let head = 0; head < queue.length; head++) {
    const node = nodes[queue[head]!]!;
    for (const [code, child] of node.next) {
      let fail = node.fail;
      while (fail !== 0 && !nodes[fail]!.next.has(code)) fail = nodes[fail]!.fail;
      const candidate = nodes[fail]!.next.get(code);
      const childNode = nodes[child]!;
      childNode.fail = candidate ?? 0;
      childNode.outputs = [...childNode.outputs, ...nodes[childNode.fail]!.outputs];
      queue.push(child);
    }
  }
  return { nodes, lengths: patterns.map((p) => p.length) };
}

export function searchAutomaton(automaton: Automaton, text: string): PatternHit[] {
  const { nodes, lengths } = automaton;
  const hits: PatternHit[] = [];
  let state = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    while (state !== 0 && !nodes[state]!.next.has(code)) state = nodes[state]!.fail;
    state = nodes[state]!.next.get(code) ?? 0;
    for (const pattern of nodes[state]!.outputs) hits.push({ pattern, start: i + 1 - lengths[pattern]!, end: i + 1 });
  }
  return hits;
}
