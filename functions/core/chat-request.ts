import type { ChatLimits } from '#config/chat-api-config';
import { API_PLATFORM } from '#platforms/types';
import * as z from '#shared/zod';
import { PayloadTooLargeError, ValidationError } from './errors';
import { joinKey } from './key-part';
import { stripInvisible } from './safety/sanitise-input';

/**
 * `/v1/chat` request validation (ARCHITECTURE §4.3): body `{"query","context"?,"max_tokens"?}` (unknown fields
 * rejected), the session header `X-Group-ID` and the optional `X-User-ID` (whom it names is checked against the
 * token by `#core/api-identity`). Every problem is reported at once in one 400.
 */
export interface ChatRequest {
  /** The question, trimmed. */
  readonly query: string;
  /** Reference text for this call only; never stored in the conversation. */
  readonly context?: string;
  readonly maxTokens?: number;
  readonly groupId: string;
  /** `X-User-ID` as sent, or undefined when left out; `resolveApiIdentity` decides whom the call answers for. */
  readonly userId?: string;
}

export interface ChatHttpInput {
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export const GROUP_HEADER = 'x-group-id';
export const USER_HEADER = 'x-user-id';
/** Session ids are opaque to us but end up in keys and logs: bounded and free of control characters. */
const MAX_ID_CHARS = 128;
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Length as API Gateway's JSON Schema `maxLength` counts it: Unicode code points, not UTF-16 units. */
const codePoints = (s: string): number => [...s].length;

function bodySchema(limits: ChatLimits) {
  return z.strictObject({
    query: z
      .pipe(
        z.string({ error: (iss) => (iss.input === undefined ? 'query is required' : 'query must be a string') }),
        z.transform((s) => s.trim()),
      )
      .check(
        // Invisible characters are stripped before anything reads the query, so a query of only those is empty.
        z.refine((s) => stripInvisible(s).trim().length > 0, { error: 'query must not be empty' }),
        z.refine((s) => codePoints(s) <= limits.maxQueryChars, {
          error: `query must be at most ${limits.maxQueryChars} characters`,
        }),
      ),
    context: z.optional(
      z.string({ error: 'context must be a string' }).check(
        z.refine((s) => codePoints(s) <= limits.maxContextChars, {
          error: `context must be at most ${limits.maxContextChars} characters`,
        }),
      ),
    ),
    max_tokens: z.optional(
      z
        .int({ error: `max_tokens must be an integer from 1 to ${limits.maxTokens}` })
        .check(
          z.gte(1, { error: `max_tokens must be an integer from 1 to ${limits.maxTokens}` }),
          z.lte(limits.maxTokens, { error: `max_tokens must be an integer from 1 to ${limits.maxTokens}` }),
        ),
    ),
  });
}

/** Throws `PayloadTooLargeError` (413) over the body limit and `ValidationError` (400) naming every problem. */
export function parseChatRequest(input: ChatHttpInput, limits: ChatLimits): ChatRequest {
  if (input.body.length > limits.maxBodyBytes) {
    throw new PayloadTooLargeError(`Request body is over ${limits.maxBodyBytes} bytes`);
  }
  const problems: string[] = [];
  const groupId = sessionId(input.headers, GROUP_HEADER, problems);
  const userId = input.headers[USER_HEADER] === undefined ? undefined : sessionId(input.headers, USER_HEADER, problems);
  const body = parseBody(input.body, limits, problems);
  if (problems.length > 0 || !body || groupId === undefined) {
    throw new ValidationError(problems.join('; '));
  }
  return {
    query: body.query,
    groupId,
    ...(userId !== undefined ? { userId } : {}),
    ...(body.context !== undefined ? { context: body.context } : {}),
    ...(body.max_tokens !== undefined ? { maxTokens: body.max_tokens } : {}),
  };
}

function sessionId(headers: ChatHttpInput['headers'], name: string, problems: string[]): string | undefined {
  const display = name === GROUP_HEADER ? 'X-Group-ID' : 'X-User-ID';
  const value = headers[name]?.trim();
  if (!value) {
    // A blank X-User-ID is a caller's bug (an empty variable), not a request to act as the token's subject.
    problems.push(
      name === USER_HEADER
        ? `header ${display} must not be blank (leave it out to act as the token's subject)`
        : `header ${display} is required`,
    );
    return undefined;
  }
  if (codePoints(value) > MAX_ID_CHARS || CONTROL.test(value)) {
    problems.push(`header ${display} must be at most ${MAX_ID_CHARS} characters without control characters`);
    return undefined;
  }
  return value;
}

function parseBody(raw: Buffer, limits: ChatLimits, problems: string[]) {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    problems.push('body must be a JSON object encoded as UTF-8');
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    problems.push('body must be a JSON object');
    return undefined;
  }
  const result = bodySchema(limits).safeParse(json);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    problems.push(
      issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (allowed: query, context, max_tokens)`
        : issue.message,
    );
  }
  return undefined;
}

/**
 * The conversation key of a REST call: `api#<tenant>#<group>#<member>` (`ApiIdentity`), each part escaped (or hashed
 * when long, e.g. a 200-character tenant) by `keyPart` as in `conversationKey`, so ids containing `#` stay
 * unambiguous. Per member, so two members of one group, or one member in two groups, never share; a member and an
 * act-as integration answering for that member share the member's context.
 */
export function apiConversationKey(tenant: string, groupId: string, userId: string): string {
  return joinKey([API_PLATFORM, tenant, groupId, userId]);
}
