import type { GenerateParams, GenerateResult, ModelEngine } from '#local-model/engine';

/**
 * INSTANT stand-in model: no llama, no weights. It answers deterministically by echoing the last user message
 * (`echo: …`), one "token" per word or CJK character, so load tests and fast tests get the real HTTP contract with
 * predictable content and microsecond latency. Never mistake its output for a model's.
 */
const TOKEN_PATTERN =
  /[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]|\s*[^\s\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]+|\s+/gu;

/** Splits text into the instant engine's "tokens"; joining them gives the text back. */
export function instantTokens(text: string): string[] {
  return text.match(TOKEN_PATTERN) ?? [];
}

export function createInstantEngine(options: { concurrency?: number } = {}): ModelEngine {
  return {
    name: 'instant-echo',
    concurrency: options.concurrency ?? 64,
    async generate(params: GenerateParams): Promise<GenerateResult> {
      const lastUser = [...params.messages].reverse().find((m) => m.role === 'user');
      const answer = instantTokens(`echo: ${lastUser?.content ?? ''}`);
      const kept = answer.slice(0, params.maxTokens);
      for (const piece of kept) {
        if (params.signal.aborted) break;
        params.onText?.(piece);
      }
      const promptTokens = params.messages.reduce((n, m) => n + 2 + instantTokens(m.content).length, 1);
      return {
        content: kept.join(''),
        finishReason: kept.length < answer.length ? 'length' : 'stop',
        promptTokens,
        completionTokens: kept.length,
      };
    },
    async close() {},
  };
}
