import { commandSkill, type Skill } from './skill';

/** Recognised in `commandForm`, like the other built-in commands. */
export const HELP_COMMANDS = ['/help', '#帮助', '/帮助'] as const;

/** One line of `/help`: a command or skill and what it does. */
export interface HelpEntry {
  readonly name: string;
  readonly description: string;
}

/**
 * `/help`: what this group's bot can do — asking a question, then each skill enabled here, in chain order. `entries`
 * is the group's own list, so a member never sees a skill their group does not have.
 */
export function helpSkill(intro: string, entries: readonly HelpEntry[]): Skill {
  const text = [intro, ...entries.map((entry) => `• ${entry.name} — ${entry.description}`)].join('\n');
  return commandSkill('help', HELP_COMMANDS, async () => text);
}
