import type { SecurityCheck } from './checks';
import type { PairResult } from './measure';

/** One timed GroupGate-vs-peer pair on the same signed event; `error` when it could not be timed fairly. */
export interface PeerComparison {
  readonly platform: 'slack' | 'feishu';
  readonly peer: string;
  readonly path: 'verify+parse' | 'handler, no I/O';
  readonly groupgate: string;
  readonly result?: PairResult;
  readonly error?: string;
}

export interface PlatformPeerResult {
  readonly comparisons: readonly PeerComparison[];
  readonly checks: readonly SecurityCheck[];
}
