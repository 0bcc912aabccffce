/** Levenshtein distance (insertions, deletions, substitutions), ignoring case: `maxinstances` is a typo too. */
export function editDistance(a: string, b: string): number {
  const from = a.toLowerCase();
  const to = b.toLowerCase();
  // One row of the classic table at a time: previous[j] = distance(from[0..i), to[0..j)).
  let previous = Array.from({ length: to.length + 1 }, (_, j) => j);
  for (let i = 1; i <= from.length; i++) {
    const current = [i];
    for (let j = 1; j <= to.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (from[i - 1] === to[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[to.length] ?? 0;
}

/**
 * The known key a mistyped one most likely meant: the nearest by `editDistance`, provided at most a third of the
 * longer key's characters (at least one) differ, so a suggestion is a plausible typo rather than just the least
 * unlike word. Ties go to the earlier key in `known`. Undefined when nothing is that close.
 */
export function nearestKey(typed: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(typed, key);
    const allowed = Math.max(1, Math.floor(Math.max(typed.length, key.length) / 3));
    if (distance <= allowed && (best === undefined || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}
