import { type LatencySummary, nsToMs, summarise } from '../stats';

/** One call of the thing measured; resolves true when the request was accepted and handled as a message. */
export type Accepting = () => Promise<boolean>;

export interface PairOptions {
  readonly warmup: number;
  readonly iterations: number;
  /** Calls per side before switching to the other one. */
  readonly block: number;
  /** Wall-clock cap of one pair's measured calls. */
  readonly seriesBudgetMs: number;
  /** Epoch ms after which measuring stops, whatever the series budget (the result is then marked truncated). */
  readonly deadline: number;
}

export interface SideResult extends LatencySummary {
  /** Timed calls that did not accept the request; anything but 0 means the figures are not the happy path. */
  readonly refused: number;
}

export interface PairResult {
  readonly groupgate: SideResult;
  readonly peer: SideResult;
  readonly truncated: boolean;
}

/**
 * Times GroupGate's call and the peer's in alternating blocks with `process.hrtime.bigint`, so drift from other
 * work on the shared machine lands on both sides alike. Sequential, as one Lambda instance serves requests.
 */
export async function timePair(groupgate: Accepting, peer: Accepting, options: PairOptions): Promise<PairResult> {
  for (let i = 0; i < options.warmup; i++) {
    await groupgate();
    await peer();
  }
  const stopAt = Math.min(options.deadline, Date.now() + options.seriesBudgetMs);
  const a = { samples: [] as number[], refused: 0 };
  const b = { samples: [] as number[], refused: 0 };
  while (a.samples.length < options.iterations && Date.now() < stopAt) {
    const n = Math.min(options.block, options.iterations - a.samples.length);
    await timeBlock(groupgate, n, a);
    await timeBlock(peer, n, b);
  }
  return {
    groupgate: { ...summarise(a.samples), refused: a.refused },
    peer: { ...summarise(b.samples), refused: b.refused },
    truncated: a.samples.length < options.iterations,
  };
}

async function timeBlock(call: Accepting, n: number, into: { samples: number[]; refused: number }): Promise<void> {
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    const accepted = await call();
    into.samples.push(nsToMs(process.hrtime.bigint() - start));
    if (!accepted) into.refused++;
  }
}

/** GroupGate ÷ peer; below 1 means GroupGate is faster, smaller or (for throughput) slower. */
export function ratio(groupgate: number | undefined, peer: number | undefined): number | undefined {
  if (groupgate === undefined || peer === undefined || !Number.isFinite(groupgate) || !(peer > 0)) return undefined;
  return groupgate / peer;
}
