const MAX_DETAIL_CHARS = 300;

/**
 * The human message in an error body: OpenAI/vLLM `{"error":{"message"}}`, TEI and Ollama `{"error":"…"}`, older vLLM
 * `{"object":"error","message"}`, FastAPI `{"detail"}`; else the text itself. `secret` (the API key) is cut out before
 * and after parsing (JSON unescaping could rebuild it) and the result truncated: bodies can be whole HTML pages.
 */
export function serverMessageOf(text: string, secret: string | undefined): string {
  const clean = redact(text, secret);
  let detail = clean.trim();
  try {
    const json = JSON.parse(clean) as { error?: unknown; message?: unknown; detail?: unknown } | null;
    const nested = typeof json?.error === 'object' && json.error !== null ? (json.error as { message?: unknown }) : {};
    const found = [nested.message, json?.error, json?.message, json?.detail].find((v) => typeof v === 'string');
    if (typeof found === 'string') detail = found;
  } catch {
    // not JSON: keep the text
  }
  detail = redact(detail, secret);
  return detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS)}…` : detail;
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}

/**
 * How servers say an input is longer than the model's window: vLLM and OpenAI ("maximum context length is 512
 * tokens"), TEI ("`inputs` must have less than 512 tokens"), llama.cpp ("input is too large to process"), Ollama
 * ("input length exceeds the context length"). Some send it as a 500, so it is read from the text, not the status.
 */
const TOO_LONG =
  /maximum context length|must have less than \d+ tokens|too (long|large|many tokens)|exceeds? (the )?(context|maximum|max)/i;

export const saysInputTooLong = (message: string): boolean => TOO_LONG.test(message);
