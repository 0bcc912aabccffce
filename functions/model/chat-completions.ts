import { ModelError } from '#core/errors';
import * as z from '#shared/zod';

/**
 * The model endpoint contract (ARCHITECTURE §4.1): the chat-completions JSON that the LMI/vLLM, vLLM and TGI
 * containers accept on SageMaker, and the sandbox's local model server serves.
 */

export const chatRoleSchema = z.enum(['system', 'user', 'assistant']);
export type ChatRole = z.infer<typeof chatRoleSchema>;

export const chatMessageSchema = z.object({ role: chatRoleSchema, content: z.string() });
export type ChatMessage = z.infer<typeof chatMessageSchema>;

/** What callers of the model client ask for. */
export interface ChatRequest {
  messages: readonly ChatMessage[];
  maxTokens: number;
  temperature: number;
}

/** The wire body of `InvokeEndpoint` (snake_case, as the containers expect). */
export interface ChatCompletionsBody {
  messages: readonly ChatMessage[];
  max_tokens: number;
  temperature: number;
  stream: boolean;
  stream_options?: { include_usage: boolean };
}

export function toRequestBody(request: ChatRequest, stream: boolean): ChatCompletionsBody {
  const body = { messages: request.messages, max_tokens: request.maxTokens, temperature: request.temperature, stream };
  // OpenAI/vLLM servers send a final usage chunk only when asked; servers that do not know the field ignore it.
  return stream ? { ...body, stream_options: { include_usage: true } } : body;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/**
 * Why the model stopped, reduced to what callers act on:
 * - `stop`: a natural end (vLLM/OpenAI `stop`, TGI `eos_token` / `stop_sequence`, llama.cpp `eos`);
 * - `length`: cut short by `max_tokens` or the context window (vLLM/OpenAI `length`, TGI `length`, `max_tokens`);
 * - `content_filter`: the container withheld the rest;
 * - `unknown`: not reported (`null`, a stream without a final chunk) or a value this contract does not know.
 * Only `stop` says the answer is whole; everything else must be treated as possibly cut short (never cached).
 */
export type FinishReason = 'stop' | 'length' | 'content_filter' | 'unknown';

const FINISH_REASONS: Readonly<Record<string, FinishReason>> = {
  stop: 'stop',
  eos: 'stop',
  eos_token: 'stop',
  stop_sequence: 'stop',
  end_turn: 'stop',
  length: 'length',
  max_tokens: 'length',
  model_length: 'length',
  content_filter: 'content_filter',
};

/** The wire `finish_reason` as a `FinishReason`; unknown and absent values are `unknown`, never `stop`. */
export function toFinishReason(raw: string | null | undefined): FinishReason {
  return (raw != null && Object.hasOwn(FINISH_REASONS, raw) ? FINISH_REASONS[raw] : undefined) ?? 'unknown';
}

const count = z.int().check(z.nonnegative());

export const usageSchema = z.object({ prompt_tokens: count, completion_tokens: count, total_tokens: count });

export const chatCompletionSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ role: z.literal('assistant'), content: z.string() }),
        // Some containers send `null` when they have no reason to give; that is `unknown`, not off-contract.
        finish_reason: z.nullish(z.string()),
      }),
    )
    .check(z.minLength(1)),
  usage: usageSchema,
});

/** One streamed `chat.completion.chunk`; the final one may carry `usage` and no choices. */
export const chatCompletionChunkSchema = z.object({
  choices: z.array(
    z.object({
      delta: z.object({ content: z.nullish(z.string()) }),
      finish_reason: z.nullish(z.string()),
    }),
  ),
  usage: z.nullish(usageSchema),
});

export function toTokenUsage(usage: z.infer<typeof usageSchema>): TokenUsage {
  return {
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
    totalTokens: usage.total_tokens,
  };
}

/** Parses a non-streaming response body strictly; anything off-contract is `ModelError('bad_response')`. */
export function parseChatCompletion(body: Uint8Array): {
  content: string;
  finishReason: FinishReason;
  usage: TokenUsage;
} {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (cause) {
    throw new ModelError('Model response is not valid UTF-8 JSON', 'bad_response', { cause });
  }
  const parsed = chatCompletionSchema.safeParse(json);
  if (!parsed.success) {
    throw new ModelError(`Model response is off-contract: ${parsed.error.message}`, 'bad_response', {
      cause: parsed.error,
    });
  }
  const [choice] = parsed.data.choices;
  if (!choice) throw new ModelError('Model response has no choices', 'bad_response');
  return {
    content: choice.message.content,
    finishReason: toFinishReason(choice.finish_reason),
    usage: toTokenUsage(parsed.data.usage),
  };
}
