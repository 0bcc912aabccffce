import { ModelError } from '#core/errors';
import {
  chatCompletionChunkSchema,
  type FinishReason,
  type TokenUsage,
  toFinishReason,
  toTokenUsage,
} from './chat-completions';

/**
 * Accumulates a streamed chat completion from `PayloadPart` byte chunks. Chunk boundaries are arbitrary (even inside
 * a UTF-8 character or a line), so bytes are decoded with a streaming TextDecoder and split into lines before any
 * JSON is parsed. Each line is either SSE (`data: {chunk}`, `data: [DONE]`, comments and other fields ignored) or a
 * bare JSON line (JSON-lines framing).
 */
export interface StreamAccumulator {
  /** Feeds one payload chunk; returns the content deltas it completed (possibly none). */
  push(bytes: Uint8Array): string[];
  /** Flushes the tail and returns the result. Throws `ModelError('bad_response')` if the stream was off-contract. */
  finish(): StreamOutcome;
}

export interface StreamOutcome {
  content: string;
  finishReason: FinishReason;
  /** Present only when the server sent a usage chunk. */
  usage?: TokenUsage;
  /** Milliseconds from `startedAt` to the first non-empty content delta. */
  timeToFirstTokenMs?: number;
}

export function createStreamAccumulator(options: { startedAt: number; now: () => number }): StreamAccumulator {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const parts: string[] = [];
  let pending = '';
  let finishReason: FinishReason | undefined;
  let usage: TokenUsage | undefined;
  let timeToFirstTokenMs: number | undefined;
  let done = false;
  let sawChunk = false;

  const decode = (bytes: Uint8Array | undefined): string => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch (cause) {
      throw new ModelError('Model stream is not valid UTF-8', 'bad_response', { cause });
    }
  };

  const handleLine = (rawLine: string, deltas: string[]): void => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '' || line.startsWith(':')) return;
    let payload: string;
    if (line.startsWith('data:')) payload = line.slice(5).trimStart();
    else if (line.startsWith('{')) payload = line;
    else return; // other SSE fields (event:, id:, retry:)
    if (payload === '[DONE]') {
      done = true;
      return;
    }
    if (done) throw new ModelError('Model stream sent data after [DONE]', 'bad_response');
    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch (cause) {
      throw new ModelError('Model stream line is not JSON', 'bad_response', { cause });
    }
    const chunk = chatCompletionChunkSchema.safeParse(json);
    if (!chunk.success) {
      throw new ModelError(`Model stream chunk is off-contract: ${chunk.error.message}`, 'bad_response', {
        cause: chunk.error,
      });
    }
    sawChunk = true;
    if (chunk.data.usage) usage = toTokenUsage(chunk.data.usage);
    for (const choice of chunk.data.choices) {
      const text = choice.delta.content;
      if (text) {
        if (timeToFirstTokenMs === undefined) timeToFirstTokenMs = options.now() - options.startedAt;
        parts.push(text);
        deltas.push(text);
      }
      if (choice.finish_reason) finishReason = toFinishReason(choice.finish_reason);
    }
  };

  const drainLines = (final: boolean): string[] => {
    const deltas: string[] = [];
    const lines = pending.split('\n');
    pending = final ? '' : (lines.pop() ?? '');
    for (const line of lines) handleLine(line, deltas);
    return deltas;
  };

  return {
    push(bytes) {
      pending += decode(bytes);
      return drainLines(false);
    },
    finish() {
      pending += decode(undefined);
      drainLines(true);
      if (!sawChunk) throw new ModelError('Model stream ended without any chunk', 'bad_response');
      return {
        content: parts.join(''),
        finishReason: finishReason ?? (done ? 'stop' : 'unknown'),
        ...(usage ? { usage } : {}),
        ...(timeToFirstTokenMs === undefined ? {} : { timeToFirstTokenMs }),
      };
    },
  };
}
