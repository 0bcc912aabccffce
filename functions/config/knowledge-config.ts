import { ConfigError } from '#core/errors';
import { LEDGER_PLATFORMS } from '#platforms/types';
import * as z from '#shared/zod';
import { enabledSkillsFor, type RemoteSkillConfig, type SkillsConfig } from './skills-config';

/**
 * The knowledge bases (docs/KNOWLEDGE.md): which documents are indexed, and which groups may retrieve from them.
 *
 * ```json
 * {
 *   "bases": [
 *     { "id": "handbook", "title": "Employee handbook", "prefix": "handbook/",
 *       "urlBase": "https://wiki.example.com/handbook/", "groups": ["*"] },
 *     { "id": "finance", "title": "Finance runbooks", "prefix": "finance/", "groups": ["feishu:oc_42", "slack:C0FIN"] }
 *   ]
 * }
 * ```
 *
 * - `prefix`: the S3 prefix of the knowledge base's documents, in the stack's knowledge bucket (Markdown, plain text,
 *   PDF, DOCX); two bases never share or nest prefixes, so no object belongs to two of them.
 * - `groups`: who may retrieve from it: `*` (every group), `platform:*` or `platform:chatId`. Unlike skill enablement
 *   this is a union: a group reads every base one of whose entries names it. **This is the access control**: the
 *   knowledge skill retrieves only from the bases of the group the worker says the message came from, and the SQL
 *   filters on them, so a group never sees passages, or ranking statistics, of another group's bases.
 * - `urlBase`: where members can open the documents (`urlBase` + the key below the prefix); only `https:`.
 */

export const MAX_KNOWLEDGE_BASES = 32;
const KB_ID = /^[a-z][a-z0-9-]{1,31}$/;
const GROUP_KEY = new RegExp(`^(\\*|(${LEDGER_PLATFORMS.join('|')}):.+)$`);
/** The remote skill name the knowledge bases are served under. */
export const KNOWLEDGE_SKILL_NAME = 'knowledge';

const knowledgeBaseSchema = z.strictObject({
  id: z
    .string()
    .check(z.regex(KB_ID, { error: 'must be 2–32 characters: a lower-case letter, then letters, digits or -' })),
  title: z.string().check(z.trim(), z.minLength(1), z.maxLength(120)),
  prefix: z.string().check(
    // `*` is valid in an S3 key; the CDK app refuses it (lib/config.ts), where the prefix becomes an IAM resource.
    z.regex(/^[A-Za-z0-9][A-Za-z0-9!_.*'()/-]{0,200}\/$/, {
      error: "must be an S3 key prefix ending in / (letters, digits and !_.*'()-/)",
    }),
    z.refine((prefix) => !prefix.split('/').includes('..'), { error: 'must not contain ..' }),
  ),
  urlBase: z.optional(z.url({ protocol: /^https$/, error: 'must be an https: URL' })),
  groups: z
    .array(
      z.string().check(z.regex(GROUP_KEY, { error: `must be * or platform:chatId (${LEDGER_PLATFORMS.join(', ')})` })),
    )
    .check(z.minLength(1), z.maxLength(200)),
});

export const knowledgeConfigSchema = z
  .strictObject({
    bases: z.array(knowledgeBaseSchema).check(z.maxLength(MAX_KNOWLEDGE_BASES)),
  })
  .check(
    z.superRefine((config, ctx) => {
      config.bases.forEach((base, i) => {
        config.bases.forEach((other, j) => {
          if (j === i) return;
          if (j < i && other.id === base.id)
            ctx.addIssue({ code: 'custom', path: ['bases', i, 'id'], message: `${base.id} is named twice` });
          if (j !== i && base.prefix.startsWith(other.prefix) && (j < i || base.prefix !== other.prefix))
            ctx.addIssue({
              code: 'custom',
              path: ['bases', i, 'prefix'],
              message: `${base.prefix} is inside ${other.id}'s prefix ${other.prefix}: a document would belong to both`,
            });
        });
      });
    }),
  );

export type KnowledgeConfig = z.output<typeof knowledgeConfigSchema>;
export type KnowledgeBaseConfig = KnowledgeConfig['bases'][number];

/** The configuration in `KNOWLEDGE_BASES` (unset or blank: none); `ConfigError` names every problem. */
export function parseKnowledgeConfig(raw: string | undefined, name = 'KNOWLEDGE_BASES'): KnowledgeConfig {
  if (raw === undefined || raw.trim() === '') return { bases: [] };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError([`${name}: is not valid JSON`]);
  }
  const parsed = knowledgeConfigSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (issue) =>
          `${name}${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`,
      ),
    );
  }
  return parsed.data;
}

/** Whether a `groups` entry (`*`, `platform:*`, `platform:chatId`) admits the group `platform:chatId`. */
export function groupEntryAdmits(entry: string, group: string): boolean {
  if (entry === '*' || entry === group) return true;
  return entry.endsWith(':*') && group.startsWith(entry.slice(0, -1));
}

/** The ids of the bases the group (`platform:chatId`) may retrieve from, in configuration order. */
export function knowledgeBasesFor(config: KnowledgeConfig, group: string): string[] {
  return config.bases.filter((base) => base.groups.some((entry) => groupEntryAdmits(entry, group))).map((b) => b.id);
}

/**
 * The base a stored object belongs to, and its key below the base's prefix; undefined for an object outside every
 * base (prefixes never nest, so there is at most one).
 */
export function baseOfObject(
  config: KnowledgeConfig,
  key: string,
): { readonly base: KnowledgeBaseConfig; readonly relativeKey: string } | undefined {
  const base = config.bases.find((b) => key.startsWith(b.prefix) && key.length > b.prefix.length);
  return base ? { base, relativeKey: key.slice(base.prefix.length) } : undefined;
}

/**
 * `skills` with the knowledge skill (`skill`, named `KNOWLEDGE_SKILL_NAME`) appended to the remote skills and enabled
 * exactly where some base admits the group: added to every `groups` entry
 * that a base's entry covers, and an entry added for each base entry the map lacks, holding what that group inherited
 * before plus the skill (so a group keeps its other skills). Groups no base admits are never asked: no invocation
 * per message where it could only decline.
 */
export function withKnowledgeSkill(
  skills: SkillsConfig,
  knowledge: KnowledgeConfig,
  skill: RemoteSkillConfig,
): SkillsConfig {
  const entries = [...new Set(knowledge.bases.flatMap((base) => base.groups))];
  if (entries.length === 0) return skills;
  if (skill.name !== KNOWLEDGE_SKILL_NAME || skills.remote.some((r) => r.name === KNOWLEDGE_SKILL_NAME)) {
    throw new ConfigError([
      `SKILLS: the remote skill name ${KNOWLEDGE_SKILL_NAME} is reserved for the knowledge bases`,
    ]);
  }
  const covered = (key: string) => entries.some((entry) => groupEntryCovers(entry, key));
  const groups: Record<string, string[]> = {};
  const before = skills.groups ?? { '*': [...enabledSkillsFor(skills, '*')] };
  for (const [key, names] of Object.entries(before)) {
    groups[key] = covered(key) && !names.includes(KNOWLEDGE_SKILL_NAME) ? [...names, KNOWLEDGE_SKILL_NAME] : [...names];
  }
  for (const entry of entries) {
    if (groups[entry] !== undefined) continue;
    const inherited = [...enabledSkillsFor({ ...skills, groups: before }, entry)];
    groups[entry] = [...inherited.filter((name) => name !== KNOWLEDGE_SKILL_NAME), KNOWLEDGE_SKILL_NAME];
  }
  return { ...skills, remote: [...skills.remote, skill], groups };
}

/** Whether every group the `key` entry stands for is admitted by `entry`. */
function groupEntryCovers(entry: string, key: string): boolean {
  if (entry === '*') return true;
  if (key === '*') return false;
  if (key.endsWith(':*')) return entry === key;
  return groupEntryAdmits(entry, key);
}
