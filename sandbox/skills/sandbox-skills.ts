import { withKnowledgeSkill } from '#config/knowledge-config';
import { parseSkillsConfig } from '#config/skills-config';
import type { WriteSql } from '#data-analysis/write-sql';
import { writeSqlFromEnv } from '#handlers/data-skill';
import { startSandboxKnowledge } from '../knowledge/knowledge-sandbox';
import { startDataSkill } from './data-skill';
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
 * by the skill, questions that name a term grounded in its definition) and the knowledge skill over this project's
 * documentation (`../knowledge/knowledge-sandbox.ts`: README.md and docs/ ingested into PGlite with pgvector, hybrid
 * retrieval, questions about GroupGate grounded in the sections that answer them); `off`, none; anything else, that
 * JSON as the handlers' `SKILLS`, validated by them at start (their ConfigError names the problem).
 */
export async function startSandboxSkills(setting: string | undefined): Promise<SandboxSkills> {
  const value = setting?.trim();
  if (value === 'off') return { config: undefined, description: 'none (SANDBOX_SKILLS=off)', stop: async () => {} };
  if (value !== undefined && value !== '') {
    return { config: value, description: `from ${SANDBOX_SKILLS_ENV}`, stop: async () => {} };
  }
  const glossary = await startGlossarySkill();
  const knowledge = await startSandboxKnowledge({ watchDocs: true }).catch(async (error: unknown) => {
    await glossary.stop();
    throw error;
  });
  const data = await startDataSkill({ writeSql: sandboxModelWritesSql() }).catch(async (error: unknown) => {
    await Promise.all([glossary.stop(), knowledge.stop()]);
    throw error;
  });
  const base = parseSkillsConfig(
    JSON.stringify({
      remote: [
        {
          name: 'glossary',
          description: `GroupGate terms: ${GLOSSARY_COMMANDS[0]} <term>, and cited definitions for questions that name one`,
          url: glossary.url,
        },
        {
          name: 'data',
          description:
            'Sample sales data, or a CSV/XLSX you share with the command: /data <question> (the model writes SQL), /sql sales <SELECT …> (your own)',
          url: data.url,
          commands: ['/data', '/sql'],
          timeoutMs: 10_000,
          acceptsFiles: true,
        },
      ],
      // Chat groups only: programs calling /v1/chat in the sandbox (scripts, the tests) get the model's answer as is.
      groups: { '*': ['cost', 'glossary', 'data'], 'api:*': ['cost'] },
    }),
  );
  const config = withKnowledgeSkill(base, knowledge.config, knowledge.skill);
  const ingested = knowledge.firstIngest;
  return {
    config: JSON.stringify(config),
    description:
      `glossary at ${glossary.url}; data (sample sales CSV: /data, /sql) at ${data.url}; knowledge base "${knowledge.config.bases[0]?.id}" (${ingested.added.length} documents, ` +
      `${ingested.chunks} sections of README.md and docs/, ingested in ${Math.round(knowledge.ingestMs)} ms${
        ingested.rejected.length > 0 ? `, ${ingested.rejected.length} rejected` : ''
      }) at ${knowledge.skill.url}`,
    stop: async () => {
      await Promise.all([glossary.stop(), knowledge.stop(), data.stop()]);
    },
  };
}

/**
 * The data skill's SQL writer: the sandbox's primary model, built on first use from the handlers' environment (set
 * after the skills start), exactly as the data skill's Lambda builds it.
 */
function sandboxModelWritesSql(): WriteSql {
  let write: WriteSql | undefined;
  return (messages, signal) => {
    write ??= writeSqlFromEnv(process.env);
    return write(messages, signal);
  };
}
