import * as z from '#shared/zod';
import {
  MAX_SKILL_FILE_NAME_CHARS,
  MAX_SKILL_FILES,
  MAX_SKILL_FILES_BYTES,
  SKILL_PROTOCOL_VERSION,
} from './remote-protocol';

/**
 * A skill's side of protocol v1 (docs/SKILLS.md §4): checking the request GroupGate sent, for skills written in this
 * repository (the sandbox's demo skills, the knowledge and data skills' Lambda handlers). Fields it does not know are
 * ignored, so a request carrying more than v1 names still works.
 */

/** Base64 characters of `MAX_SKILL_FILES_BYTES`: what one file's `data` may hold. */
const BASE64_CHARS = Math.ceil(MAX_SKILL_FILES_BYTES / 3) * 4;

const requestSchema = z.object({
  version: z.literal(SKILL_PROTOCOL_VERSION),
  skill: z.string().check(z.minLength(1)),
  requestId: z.string().check(z.minLength(1)),
  text: z.string(),
  command: z.optional(z.string().check(z.minLength(1))),
  args: z.optional(z.string()),
  origin: z.optional(
    z.object({
      platform: z.string().check(z.minLength(1)),
      chatId: z.string().check(z.minLength(1)),
      memberRef: z.string().check(z.minLength(1)),
    }),
  ),
  files: z.optional(
    z
      .array(
        z.object({
          name: z.string().check(z.minLength(1), z.maxLength(MAX_SKILL_FILE_NAME_CHARS)),
          mediaType: z.string().check(z.minLength(1), z.maxLength(200)),
          data: z.base64().check(z.maxLength(BASE64_CHARS)),
        }),
      )
      .check(z.maxLength(MAX_SKILL_FILES)),
  ),
  deadlineMs: z.number().check(z.gte(0)),
});

export type ParsedRequest =
  | { readonly ok: true; readonly request: SkillRequestInput }
  | { readonly ok: false; readonly reason: string };

/** A valid v1 request as a skill receives it. */
export type SkillRequestInput = z.output<typeof requestSchema>;

/** Checks a decoded body against protocol v1; the reason names the version or every field that is wrong. */
export function parseSkillRequest(body: unknown): ParsedRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, reason: 'the body must be a JSON object' };
  }
  const version = (body as { version?: unknown }).version;
  if (version !== SKILL_PROTOCOL_VERSION) {
    return {
      ok: false,
      reason: `unsupported version ${JSON.stringify(version) ?? 'undefined'}: this skill speaks ${SKILL_PROTOCOL_VERSION}`,
    };
  }
  const parsed = requestSchema.safeParse(body);
  if (parsed.success) return { ok: true, request: parsed.data };
  const reason = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
  return { ok: false, reason };
}
