import { MAX_SKILL_RESPONSE_BYTES } from '#core/skills/remote-protocol';
import { SkillInvokeError } from '#core/skills/remote-skill';

/**
 * A skill's response body as JSON, as every invoker reads it: at most `MAX_SKILL_RESPONSE_BYTES` (`too_large`
 * otherwise, never truncated), UTF-8 and one JSON document (`invalid_json` otherwise). Whether the JSON is a valid
 * protocol response is decided later (`parseSkillResponse`).
 */
export function decodeSkillPayload(bytes: Uint8Array): unknown {
  if (bytes.byteLength > MAX_SKILL_RESPONSE_BYTES) throw tooLarge(bytes.byteLength);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SkillInvokeError('invalid_json', 'response is not UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new SkillInvokeError(
      'invalid_json',
      text.trim() === '' ? 'response is empty' : `response is not JSON (${bytes.byteLength} bytes)`,
    );
  }
}

export function tooLarge(bytes: number | string): SkillInvokeError {
  return new SkillInvokeError('too_large', `response of ${bytes} bytes; the limit is ${MAX_SKILL_RESPONSE_BYTES}`);
}
