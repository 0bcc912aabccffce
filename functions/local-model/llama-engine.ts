import type { ChatHistoryItem } from 'node-llama-cpp';
import type { ChatMessage } from '#model/chat-completions';
import { DEFAULT_CONTEXT_SIZE, type GenerateParams, type GenerateResult, type ModelEngine } from './engine';

/**
 * The real local engine: a GGUF model on CPU through node-llama-cpp. node-llama-cpp is ESM-only, so it is loaded with
 * a dynamic `import()` at run time (tsx keeps it a real ESM import, and so does esbuild's CommonJS bundle of the
 * fallback function, with node-llama-cpp external); jest, which runs CommonJS, must reach this engine only through a
 * child process (`sandbox/model/server-main.ts`, or the bundled fallback function).
 */
export interface LlamaEngineOptions {
  modelPath: string;
  /** Tokens per sequence. @default 2048 */
  contextSize?: number;
  /** CPU threads per evaluation. More than 1 spins hard on busy shared machines. @default 1 */
  threads?: number;
  /** Parallel generations; each gets its own context sequence. @default 1 */
  concurrency?: number;
  onLoadProgress?: (progress: number) => void;
}

export interface LlamaEngine extends ModelEngine {
  /** Milliseconds spent loading the model and creating its context. */
  readonly loadMs: number;
}

/** The chat history node-llama-cpp generates from: the messages, then the model's empty turn to fill. */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) => {
    if (m.role === 'system') return { type: 'system', text: m.content };
    if (m.role === 'user') return { type: 'user', text: m.content };
    return { type: 'model', response: [m.content] };
  });
  history.push({ type: 'model', response: [] });
  return history;
}

export async function createLlamaEngine(options: LlamaEngineOptions): Promise<LlamaEngine> {
  const started = Date.now();
  const { getLlama, LlamaChat, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    logLevel: LlamaLogLevel.warn,
    // stdout belongs to the server's JSON-lines protocol; llama.cpp's own log goes to stderr.
    logger: (level, message) => process.stderr.write(`[llama.cpp ${level}] ${message}\n`),
  });
  const model = await llama.loadModel({
    modelPath: options.modelPath,
    ...(options.onLoadProgress ? { onLoadProgress: options.onLoadProgress } : {}),
  });
  const concurrency = options.concurrency ?? 1;
  const context = await model.createContext({
    contextSize: options.contextSize ?? DEFAULT_CONTEXT_SIZE,
    sequences: concurrency,
    threads: options.threads ?? 1,
  });
  // The server's limiter admits at most `concurrency` generations, so a free sequence always exists.
  const free = Array.from({ length: concurrency }, () => context.getSequence());
  const loadMs = Date.now() - started;

  return {
    name: model.filename ?? 'llama',
    concurrency,
    loadMs,
    async generate(params: GenerateParams): Promise<GenerateResult> {
      const sequence = free.pop();
      if (!sequence) throw new Error('No free context sequence; the server must bound concurrency');
      const chat = new LlamaChat({ contextSequence: sequence, autoDisposeSequence: false });
      try {
        const history = toChatHistory(params.messages);
        const promptTokens = chat.chatWrapper
          .generateContextState({ chatHistory: history })
          .contextText.tokenize(model.tokenizer).length;
        let completionTokens = 0;
        const result = await chat.generateResponse(history, {
          maxTokens: params.maxTokens,
          temperature: params.temperature,
          signal: params.signal,
          stopOnAbortSignal: true,
          onToken: (tokens) => {
            completionTokens += tokens.length;
          },
          ...(params.onText ? { onTextChunk: params.onText } : {}),
        });
        return {
          content: result.response,
          finishReason: result.metadata.stopReason === 'maxTokens' ? 'length' : 'stop',
          promptTokens,
          completionTokens,
        };
      } finally {
        chat.dispose();
        await sequence.clearHistory();
        free.push(sequence);
      }
    },
    async close() {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}
