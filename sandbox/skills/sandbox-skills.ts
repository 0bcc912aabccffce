import { GLOSSARY_COMMANDS, startGlossarySkill } from './glossary-skill';

/** Which third-party skills the sandbox's handlers get (docs/SKILLS.md, README "Sandbox configuration"). */
export const SANDBOX_SKILLS_ENV = 'SANDBOX_SKILLS';

export interface SandboxSkills {
  /** The `SKILLS` value for the handlers; undefined: none. */
  readonly config: string | undefined;
  /** A line for the start-up log. */
  readonly description: string;
  stop(): Promise<void>;
}

/**
 * The sandbox's skills from `SANDBOX_SKILLS`: unset, the demo glossary skill (a local HTTP skill speaking protocol v1,
 * `glossary-skill.ts`) asked about every message in every group, so `/define <term>` and questions that name a term
 * show a skill answering and grounding; `off`, none; anything else, that JSON as the handlers' `SKILLS`, validated by
 * them at start (their ConfigError names the problem).
 */
export async function startSandboxSkills(setting: string | undefined): Promise<SandboxSkills> {
  const value = setting?.trim();
  if (value === 'off') return { config: undefined, description: 'none (SANDBOX_SKILLS=off)', stop: async () => {} };
  if (value !== undefined && value !== '') {
    return { config: value, description: `from ${SANDBOX_SKILLS_ENV}`, stop: async () => {} };
  }
  const glossary = await startGlossarySkill();
  const config = {
    remote: [
      {
        name: 'glossary',
        description: `GroupGate terms: ${GLOSSARY_COMMANDS[0]} <term>, and cited definitions for questions that name one`,
        url: glossary.url,
      },
    ],
    groups: { '*': ['cost', 'glossary'] },
  };
  return {
    config: JSON.stringify(config),
    description: `glossary (demo third-party skill) at ${glossary.url}`,
    stop: () => glossary.stop(),
  };
}
