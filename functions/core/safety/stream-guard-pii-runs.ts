import { buildDetectionView, originalSpan } from './detection-view';
import type { TextSpan } from './stream-guard-lexicon';

/**
 * Where a streamed answer may be cut without splitting something `pii.ts` could mask.
 *
 * Every PII detector's match, and every character its lookarounds inspect, lies inside one "run" of the detection
 * view (`detection-view.ts`, so full-width digits, odd dashes and spaces and zero-width characters are already
 * folded): characters of `[A-Za-z0-9@.%+_:()-]`, where a single space also joins two characters when it sits
 * between digit-group characters (`[0-9.)-]` before, `[0-9.(+-]` after), as in `138 1234 5678`, `+86 138…`,
 * `6222 0212 …` and `138 - 1234`. Cutting at a run boundary therefore leaves every detector's findings in the part
 * before the cut exactly as in the whole text; cutting inside a run could show half a phone number unmasked.
 * A run that reaches the end of a text that may still grow (or ends in a joining space) is open: it may become PII.
 *
 * Runs are ordinary words too, so the cost is only that a word is shown once it has ended. O(n).
 */

const RUN = /[A-Za-z0-9@.%+_:()-]/;
const JOINS_BEFORE = /[0-9.)-]/;
const JOINS_AFTER = /[0-9.(+-]/;

export interface PiiRuns {
  /** Runs as original spans, ascending and disjoint. */
  readonly runs: readonly TextSpan[];
  /** Start of the run that may still grow (original offset); `text.length` when the text ends outside a run. */
  readonly openFrom: number;
}

export function findPiiRuns(text: string): PiiRuns {
  const view = buildDetectionView(text);
  const v = view.text;
  const runs: TextSpan[] = [];
  let openFrom = text.length;
  let i = 0;
  while (i < v.length) {
    if (!RUN.test(v[i]!)) {
      i++;
      continue;
    }
    const start = i;
    let open = false;
    for (;;) {
      i++;
      if (i >= v.length) {
        open = true;
        break;
      }
      if (RUN.test(v[i]!)) continue;
      if (v[i] !== ' ' || !JOINS_BEFORE.test(v[i - 1]!)) break;
      if (i + 1 >= v.length) {
        open = true;
        i++;
        break;
      }
      if (!JOINS_AFTER.test(v[i + 1]!)) break;
    }
    const span = originalSpan(view, start, i);
    runs.push(span);
    if (open) openFrom = span.start;
  }
  return { runs, openFrom };
}
