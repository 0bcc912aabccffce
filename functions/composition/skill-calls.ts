import { randomUUID } from 'node:crypto';
import type { SkillsConfig } from '#config/skills-config';
import type { RemoteSkillDeps, SkillCallReport } from '#core/skills/remote-skill';
import { countSkillFailure, METRIC, recordMetric } from '#shared/metrics';
import { logger } from '#shared/powertools';
import { skillInvokerFor } from '#skills/invoker-for';

/**
 * How the deployment calls its third-party skills and accounts for each call: the invoker for `config` (Lambda by
 * ARN, or a local URL in the sandbox), a fresh request id per call, and `reportSkillCall`. Undefined when no remote
 * skill is configured, so nothing is built.
 */
export function remoteSkillDeps(
  config: SkillsConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Omit<RemoteSkillDeps, 'now'> | undefined {
  if (config.remote.length === 0) return undefined;
  return { invoke: skillInvokerFor(config, env), newRequestId: randomUUID, report: reportSkillCall };
}

/**
 * One skill call in the log (skill, action, reason, latency, images dropped and why; never the member's text or the
 * skill's; WARN for a failure or a dropped image) and in the metrics: its latency, and a failure under its reason
 * (`SkillFailures`), the figure a skill's owner watches.
 */
export function reportSkillCall(call: SkillCallReport): void {
  if (call.action === 'failed') {
    logger.warn('skill call failed', { ...call });
    countSkillFailure(call.reason ?? 'unexpected');
  } else if (call.droppedImages) {
    // The answer went out; images the protocol refused are the skill owner's to fix.
    logger.warn('skill call', { ...call });
  } else {
    logger.info('skill call', { ...call });
  }
  if (call.action !== 'skipped') recordMetric(METRIC.skillLatencyMs, call.latencyMs);
}
