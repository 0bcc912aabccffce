import { logger } from '#shared/powertools';
import type { Accepting } from './measure';

export type Outcome = 'accepted' | 'refused';

/**
 * One crafted request sent to GroupGate's handler and to the peer's, and what each did with it. `secure` is the
 * outcome a careful verifier gives; the table reports what was observed, not what the documentation says.
 */
export interface SecurityCheck {
  readonly platform: 'slack' | 'feishu';
  readonly check: string;
  readonly secure: Outcome;
  readonly groupgate: Outcome;
  readonly peer: Outcome;
}

/** A thrown verification error is a refusal too (GroupGate's `parse` throws; Lambda handlers answer 4xx). */
export async function outcomeOf(call: Accepting): Promise<Outcome> {
  try {
    return (await call()) ? 'accepted' : 'refused';
  } catch {
    return 'refused';
  }
}

/** Runs crafted requests with GroupGate's logger at ERROR, so its expected rejection warnings stay out of the report. */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const level = logger.getLevelName();
  logger.setLogLevel('ERROR');
  try {
    return await fn();
  } finally {
    logger.setLogLevel(level);
  }
}
