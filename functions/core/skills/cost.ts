import { commandSkill, type Skill } from './skill';

/** Recognised in `commandForm`, like the reset commands. */
export const COST_COMMANDS = ['/cost', '#费用', '/费用'] as const;

/**
 * `/cost`: the asking member's and their group's usage this month, as `usage` words it. Only composed where the
 * caller can name the member; elsewhere `/cost` is an ordinary question.
 */
export function costSkill(usage: () => Promise<string>): Skill {
  return commandSkill('cost', COST_COMMANDS, () => usage());
}
