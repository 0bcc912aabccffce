import { existsSync } from 'node:fs';
import path from 'node:path';
import { toChatHistory } from '#local-model/llama-engine';
import type { ChatMessage, ChatRequest } from '#model/chat-completions';
import { createSageMakerClient } from '#model/sagemaker-client';
import { ensureDemoModel } from '../../sandbox/model/demo-model';
import { DEFAULT_DEMO_MODEL_PATH, type LocalModel, startLocalModel } from '../../sandbox/model/local-model';
import { type LatencySummary, median, nsToMs, summarise } from '../stats';

/**
 * Tokens per second through the SageMaker-contract model server (sandbox/model's `startLocalModel`, listening on
 * 127.0.0.1) against node-llama-cpp called directly, both in this process so neither gets a core the other lacks,
 * on the same GGUF with the same prompt, max tokens, temperature 0, context size and one thread each. The direct side repeats the server engine's per-request
 * work (a fresh `LlamaChat` on a cleared sequence), so the gap is the contract layer: HTTP, JSON, request validation
 * and, on the `SageMaker client` path, the AWS SDK client the worker uses.
 */
export type ModelPath = 'node-llama-cpp direct' | 'server via SageMaker client' | 'server via plain HTTP';

export interface ModelRun {
  readonly ms: number;
  readonly completionTokens: number;
}

export interface ModelRow extends LatencySummary {
  readonly path: ModelPath;
  readonly runs: readonly ModelRun[];
  /** Median over runs of completion tokens ÷ wall time of the whole request. */
  readonly tokensPerSec: number;
  /** The best run's rate: on a shared machine the least disturbed run is the closest to the intrinsic cost. */
  readonly bestTokensPerSec: number;
  readonly completionTokens: number;
}

export interface ModelPeerResult {
  readonly modelPath?: string;
  /** Which model was used and why; says so when the shared test model was absent. */
  readonly modelNote: string;
  readonly maxTokens: number;
  readonly rows: readonly ModelRow[];
  /** Every path produced the same text (temperature 0 is greedy, so it should). */
  readonly sameOutput?: boolean;
  readonly serverLoadMs?: number;
  readonly error?: string;
}

export interface ModelPeerOptions {
  readonly rootDir: string;
  readonly runs: number;
  readonly maxTokens: number;
  readonly deadline: number;
  readonly progress: (line: string) => void;
}

const SHARED_MODEL = 'llama-2-tiny-random.gguf';
const ENDPOINT = 'bench-llm';
const CONTEXT_SIZE = 1024;
/** Below this, starting the server and loading the model would leave no time to measure anything. */
const MIN_BUDGET_MS = 10_000;
const MESSAGES: readonly ChatMessage[] = [
  { role: 'system', content: 'You are GroupGate, a helpful assistant in a team group chat. Answer briefly.' },
  { role: 'user', content: '你好，请用三句话介绍一下我们的值班制度和请假流程。' },
];

type Generate = () => Promise<{ content: string; completionTokens: number }>;

export async function runModelPeerBench(options: ModelPeerOptions): Promise<ModelPeerResult> {
  const shared = path.resolve(options.rootDir, '..', 'shared', 'models', SHARED_MODEL);
  const sharedPresent = existsSync(shared);
  const modelPath = sharedPresent ? shared : await ensureDemoModel(DEFAULT_DEMO_MODEL_PATH);
  const modelNote = sharedPresent
    ? `../shared/models/${SHARED_MODEL}`
    : `../shared/models/${SHARED_MODEL} absent: fell back to the generated demo model ${path.relative(options.rootDir, modelPath)}`;
  const base = { modelPath, modelNote, maxTokens: options.maxTokens };
  if (options.deadline - Date.now() < MIN_BUDGET_MS) {
    return { ...base, rows: [], error: 'skipped: time budget spent' };
  }
  let server: LocalModel | undefined;
  let direct: DirectModel | undefined;
  try {
    options.progress('model: starting the model server and loading the GGUF directly');
    server = await startLocalModel({
      modelPath,
      endpointName: ENDPOINT,
      contextSize: CONTEXT_SIZE,
      threads: 1,
      concurrency: 1,
      maxTokensLimit: options.maxTokens,
    });
    direct = await loadDirect(modelPath);
    const request: ChatRequest = { messages: MESSAGES, maxTokens: options.maxTokens, temperature: 0 };
    const paths: [ModelPath, Generate][] = [
      ['node-llama-cpp direct', () => direct!.generate(request)],
      ['server via SageMaker client', viaSageMakerClient(server.url, request)],
      ['server via plain HTTP', viaHttp(server.url, request)],
    ];
    const runs = new Map<ModelPath, ModelRun[]>(paths.map(([p]) => [p, []]));
    const outputs = new Set<string>();
    for (const [, generate] of paths) outputs.add((await generate()).content);
    // Rounds rotate the order so neither side always runs first after the other's work.
    for (let round = 0; round < options.runs && Date.now() < options.deadline; round++) {
      for (let i = 0; i < paths.length; i++) {
        const [name, generate] = paths[(round + i) % paths.length]!;
        const start = process.hrtime.bigint();
        const { content, completionTokens } = await generate();
        runs.get(name)!.push({ ms: nsToMs(process.hrtime.bigint() - start), completionTokens });
        outputs.add(content);
      }
    }
    const rows = paths.map(([name]) => toRow(name, runs.get(name) ?? []));
    return { ...base, rows, sameOutput: outputs.size === 1, serverLoadMs: server.loadMs };
  } catch (err) {
    return { ...base, rows: [], error: (err as Error).message.split('\n')[0] ?? 'failed' };
  } finally {
    await server?.close();
    await direct?.close();
  }
}

function toRow(name: ModelPath, runs: readonly ModelRun[]): ModelRow {
  const rates = runs.map((r) => r.completionTokens / (r.ms / 1000));
  return {
    path: name,
    ...summarise(runs.map((r) => r.ms)),
    runs,
    tokensPerSec: median(rates),
    bestTokensPerSec: Math.max(...rates),
    completionTokens: median(runs.map((r) => r.completionTokens)),
  };
}

function viaSageMakerClient(url: string, request: ChatRequest): Generate {
  const client = createSageMakerClient({
    endpointName: ENDPOINT,
    endpointUrl: url,
    region: 'us-east-1',
    modelId: 'bench',
    instanceType: 'ml.g4dn.xlarge',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    retry: { maxAttempts: 1 },
  });
  return async () => {
    const result = await client.invoke(request, { deadline: Date.now() + 30_000 });
    return { content: result.content, completionTokens: result.usage.completionTokens };
  };
}

function viaHttp(url: string, request: ChatRequest): Generate {
  const body = JSON.stringify({
    messages: request.messages,
    max_tokens: request.maxTokens,
    temperature: request.temperature,
  });
  return async () => {
    const res = await fetch(`${url}/endpoints/${ENDPOINT}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    if (!res.ok) throw new Error(`model server answered ${res.status}: ${await res.text()}`);
    const json = (await res.json()) as {
      choices: { message: { content: string } }[];
      usage: { completion_tokens: number };
    };
    return { content: json.choices[0]?.message.content ?? '', completionTokens: json.usage.completion_tokens };
  };
}

interface DirectModel {
  generate(request: ChatRequest): Promise<{ content: string; completionTokens: number }>;
  close(): Promise<void>;
}

async function loadDirect(modelPath: string): Promise<DirectModel> {
  const { getLlama, LlamaChat, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: CONTEXT_SIZE, sequences: 1, threads: 1 });
  const sequence = context.getSequence();
  return {
    async generate(request) {
      const chat = new LlamaChat({ contextSequence: sequence, autoDisposeSequence: false });
      let completionTokens = 0;
      try {
        const result = await chat.generateResponse(toChatHistory(request.messages), {
          maxTokens: request.maxTokens,
          temperature: request.temperature,
          onToken: (tokens) => {
            completionTokens += tokens.length;
          },
        });
        return { content: result.response, completionTokens };
      } finally {
        chat.dispose();
        await sequence.clearHistory();
      }
    },
    async close() {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}
