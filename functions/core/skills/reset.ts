import { commandSkill, type Skill } from './skill';

/** Recognised in `commandForm`: after invisible-character stripping, NFKC (`／reset`), lower case and trimming. */
export const RESET_COMMANDS = ['/reset', '#清除记忆', '/清除记忆'] as const;

/** `/reset`: clears the conversation's context and confirms with `reply`; no model call. */
export function resetSkill(reply: string): Skill {
  return commandSkill('reset', RESET_COMMANDS, async (ctx) => {
    await ctx.clearContext();
    return reply;
  });
}
