import type * as z from '#shared/zod';

/** A decoded frame, or why it is not one (logged with the frame's size, never its content). */
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Parses JSON text, reporting `not JSON` instead of throwing. */
export function parseJsonText(text: string): Decoded<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
}

/** JSON text through a schema; a mismatch names the offending field paths. */
export function decodeJsonWith<T>(schema: z.ZodMiniType<T>, text: string): Decoded<T> {
  const json = parseJsonText(text);
  return json.ok ? checkWith(schema, json.value) : json;
}

export function checkWith<T>(schema: z.ZodMiniType<T>, value: unknown): Decoded<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const fields = parsed.error.issues.map((issue) => issue.path.map(String).join('.') || '(root)').join(', ');
  return { ok: false, reason: `missing or invalid fields: ${fields}` };
}
