import { ConfigError } from '#core/errors';
import { commandForm } from '#core/safety/sanitise-input';
import { COST_COMMANDS } from '#core/skills/cost';
import { HELP_COMMANDS } from '#core/skills/help';
import { RESET_COMMANDS } from '#core/skills/reset';
import { LEDGER_PLATFORMS } from '#platforms/types';
import * as z from '#shared/zod';

/**
 * The `SKILLS` configuration (docs/SKILLS.md): third-party skills and which skills each group may use.
 *
 * ```json
 * {
 *   "remote": [{ "name": "glossary", "description": "Company terms: /define <term>",
 *                "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:glossary",
 *                "commands": ["/define"], "timeoutMs": 3000, "acceptsFiles": false }],
 *   "groups": { "*": ["cost"], "slack:C0123": ["cost", "glossary"] }
 * }
 * ```
 *
 * - A remote skill is a Lambda function named by ARN (`functionArn`) or, in the sandbox and tests only, a local
 *   HTTP endpoint (`url`); exactly one of the two. The CDK app accepts ARNs only.
 * - `commands`: the skill is asked only for messages whose first word is one of them (after the same normalisation
 *   as built-in commands); `pattern`: only for messages matching this regular expression (case-insensitive); neither:
 *   for every message of a group that enables it (a retrieval skill).
 * - `groups` maps `*` (every group), `platform:*` (every group of one platform, `api:*` for every `/v1/chat` group)
 *   or `platform:chatId` (a chat, or `api:<X-Group-ID>` for `/v1/chat`) to the OPTIONAL skills enabled there:
 *   `cost` and remote skills. The most specific entry applies: a group's own, else its platform's, else `*`.
 *   `help` and `reset` are always on: a member can always see what the bot does and clear what it remembers.
 *   Without `groups`, `*` is `["cost"]`: a remote skill receives members' messages only where an operator named it.
 */

const BUILT_IN_COMMANDS: readonly string[] = [...HELP_COMMANDS, ...RESET_COMMANDS, ...COST_COMMANDS];

/** Built-in skills every group has. */
export const ALWAYS_ON_SKILLS = ['help', 'reset'] as const;
/** Built-in skills a group may go without. */
export const OPTIONAL_BUILT_IN_SKILLS = ['cost'] as const;
const BUILT_IN = new Set<string>([...ALWAYS_ON_SKILLS, ...OPTIONAL_BUILT_IN_SKILLS]);

/** The default and the ceiling of a remote skill's time per message, ms. */
export const DEFAULT_SKILL_TIMEOUT_MS = 3000;
export const MAX_SKILL_TIMEOUT_MS = 10_000;
/** Enough for a command table; more would be a configuration mistake. */
export const MAX_REMOTE_SKILLS = 16;

const SKILL_NAME = /^[a-z][a-z0-9-]{1,31}$/;
/**
 * A group with a quantifier inside, itself quantified (`(a+)+`, `(x*)*`, `(y{2,})+`): the shape of catastrophic
 * backtracking. Patterns run on every message of the groups that enable the skill, so these are refused outright.
 */
const NESTED_QUANTIFIER = /\([^()]*[+*}][^()]*\)[+*{]/;
/** A Lambda function ARN, optionally with a version or alias qualifier. */
export const LAMBDA_FUNCTION_ARN =
  /^arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-\d:\d{12}:function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$/;
const GROUP_KEY = new RegExp(`^(\\*|(${LEDGER_PLATFORMS.join('|')}):.+)$`);

const remoteSkillSchema = z
  .strictObject({
    name: z.string().check(
      z.regex(SKILL_NAME, { error: 'must be 2–32 characters: a lower-case letter, then letters, digits or -' }),
      z.refine((name) => !BUILT_IN.has(name), { error: 'is the name of a built-in skill' }),
    ),
    /** Shown by `/help`. */
    description: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
    functionArn: z.optional(z.string().check(z.regex(LAMBDA_FUNCTION_ARN, { error: 'must be a Lambda function ARN' }))),
    url: z.optional(z.url({ protocol: /^https?$/ })),
    commands: z.optional(
      z
        .array(z.string().check(z.regex(/^\S{2,32}$/, { error: 'must be one word of 2–32 characters' })))
        .check(z.minLength(1), z.maxLength(8)),
    ),
    pattern: z.optional(
      z.string().check(
        z.minLength(1),
        z.maxLength(200),
        z.refine(compiles, { error: 'must be a valid regular expression' }),
        z.refine((pattern) => !NESTED_QUANTIFIER.test(pattern), {
          error: 'must not repeat a group that itself repeats, e.g. (a+)+: it can take seconds per message',
        }),
      ),
    ),
    timeoutMs: z._default(z.int().check(z.gte(100), z.lte(MAX_SKILL_TIMEOUT_MS)), DEFAULT_SKILL_TIMEOUT_MS),
    /**
     * Send the skill the files members share with the messages it matches (`files` in the request, docs/SKILLS.md).
     * Off unless set: a skill never receives files it did not ask for.
     */
    acceptsFiles: z.optional(z.boolean()),
  })
  .check(
    z.refine((skill) => (skill.functionArn === undefined) !== (skill.url === undefined), {
      error: 'needs exactly one of functionArn and url',
    }),
  );

export const skillsConfigSchema = z
  .strictObject({
    remote: z._default(z.array(remoteSkillSchema).check(z.maxLength(MAX_REMOTE_SKILLS)), []),
    // Keys are checked in the refinement below: a record key schema's own message would replace ours.
    groups: z.optional(z.record(z.string(), z.array(z.string()))),
  })
  .check(
    z.superRefine((config, ctx) => {
      const names = config.remote.map((skill) => skill.name);
      // A command belongs to one skill, and never shadows a built-in one: the chain would take it silently.
      const owners = new Map<string, string>(BUILT_IN_COMMANDS.map((command) => [commandForm(command), 'built in']));
      config.remote.forEach((skill, i) => {
        skill.commands?.forEach((command, j) => {
          const form = commandForm(command);
          const owner = owners.get(form);
          const path = ['remote', i, 'commands', j];
          if (owner !== undefined) ctx.addIssue({ code: 'custom', path, message: `${command} is already ${owner}` });
          else owners.set(form, `a command of ${skill.name}`);
        });
      });
      names.forEach((name, i) => {
        if (names.indexOf(name) !== i)
          ctx.addIssue({ code: 'custom', path: ['remote', i, 'name'], message: `${name} is named twice` });
      });
      const known = new Set<string>([...OPTIONAL_BUILT_IN_SKILLS, ...names]);
      for (const [group, enabled] of Object.entries(config.groups ?? {})) {
        if (!GROUP_KEY.test(group)) {
          ctx.addIssue({
            code: 'custom',
            path: ['groups', group],
            message: `keys must be * or platform:chatId (${LEDGER_PLATFORMS.join(', ')})`,
          });
        }
        enabled.forEach((name, i) => {
          if (known.has(name)) return;
          const hint = (ALWAYS_ON_SKILLS as readonly string[]).includes(name)
            ? `${name} is always on; leave it out`
            : `unknown skill ${name} (known: ${[...known].join(', ')})`;
          ctx.addIssue({ code: 'custom', path: ['groups', group, i], message: hint });
        });
      }
    }),
  );

export type SkillsConfig = z.output<typeof skillsConfigSchema>;
export type RemoteSkillConfig = SkillsConfig['remote'][number];

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'iu');
    return true;
  } catch {
    return false;
  }
}

/** The configuration in `SKILLS` (unset or blank: none); `ConfigError` names every problem. */
export function parseSkillsConfig(raw: string | undefined): SkillsConfig {
  if (raw === undefined || raw.trim() === '') return { remote: [] };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError(['SKILLS: is not valid JSON']);
  }
  const parsed = skillsConfigSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (issue) =>
          `SKILLS${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`,
      ),
    );
  }
  return parsed.data;
}

/**
 * The optional skills enabled for a group (`platform:chatId`): its own entry, else its platform's (`platform:*`), else
 * `*`, else `cost` alone. The always-on skills are not listed.
 */
export function enabledSkillsFor(config: SkillsConfig, group: string): ReadonlySet<string> {
  const groups = config.groups;
  const platformWide = `${group.slice(0, group.indexOf(':'))}:*`;
  const names = groups?.[group] ?? groups?.[platformWide] ?? groups?.['*'] ?? OPTIONAL_BUILT_IN_SKILLS;
  return new Set(names);
}
