import { startDocsSkill } from './docs-skill';
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
 * The sandbox's skills from `SANDBOX_SKILLS`: unset, two local HTTP skills speaking protocol v1, asked about every
 * message in every chat group (not `/v1/chat`: `api:*`): the glossary (`glossary-skill.ts`: `/define <term>` answered
 * by the skill, questions that name a term grounded in its definition) and the docs (`docs-skill.ts`: questions about
 * GroupGate grounded in the sections of this project's documentation that answer them); `off`, none; anything else,
 * that JSON as the handlers' `SKILLS`, validated by them at start (their ConfigError names the problem).
 */
export async function startSandboxSkills(setting: string | undefined): Promise<SandboxSkills> {
  const value = setting?.trim();
  if (value === 'off') return { config: undefined, description: 'none (SANDBOX_SKILLS=off)', stop: async () => {} };
  if (value !== undefined && value !== '') {
    return { config: value, description: `from ${SANDBOX_SKILLS_ENV}`, stop: async () => {} };
  }
  const glossary = await startGlossarySkill();
  const docs = await startDocsSkill().catch(async (error: unknown) => {
    await glossary.stop();
    throw error;
  });
  const config = {
    remote: [
      {
        name: 'glossary',
        description: `GroupGate terms: ${GLOSSARY_COMMANDS[0]} <term>, and cited definitions for questions that name one`,
        url: glossary.url,
      },
      {
        name: 'docs',
        description:
          'GroupGate documentation: questions about setting up and running it are answered with cited sections',
        url: docs.url,
      },
    ],
    // Chat groups only: programs calling /v1/chat in the sandbox (scripts, the tests) get the model's answer as is.
    groups: { '*': ['cost', 'glossary', 'docs'], 'api:*': ['cost'] },
  };
  return {
    config: JSON.stringify(config),
    description:
      `glossary at ${glossary.url}, docs (${docs.chunks} sections of README.md and docs/, indexed in ` +
      `${Math.round(docs.indexMs)} ms) at ${docs.url}`,
    stop: async () => {
      await Promise.all([glossary.stop(), docs.stop()]);
    },
  };
}
