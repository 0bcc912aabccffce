import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { encodeGguf, type GgufTensor, type GgufValue } from './gguf-writer';

/**
 * The sandbox's default model: a tiny llama-architecture GGUF written by our own code, so a fresh clone needs no
 * download. Weights are seeded noise, so its answers are gibberish — it exists to exercise the real loading,
 * tokenising, chat-templating and generation path of node-llama-cpp, not to answer questions.
 * The same seed always produces the same bytes.
 */

export const DEMO_MODEL_HPARAMS = {
  contextLength: 2048,
  embeddingLength: 64,
  blockCount: 2,
  feedForwardLength: 128,
  headCount: 4,
  headCountKv: 2,
  rmsEpsilon: 1e-5,
} as const;

/** SentencePiece token types as llama.cpp reads them (`tokenizer.ggml.token_type`). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

const SPACE = '\u2581';
const COMMON_WORDS =
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part hello hi thanks please help answer question model bot group chat team today data cloud cost'.split(
    ' ',
  );
const COMMON_CHINESE = '你好我是的了在不人有这个们中大为上来说国和地到以时要就出会可也能他对生问题请谢帮助答模型群聊天';
const PUNCTUATION = '.,!?;:\'"()-0123456789，。！？：、';

interface Vocabulary {
  tokens: string[];
  scores: number[];
  types: number[];
  bosId: number;
  eosId: number;
  unkId: number;
}

/** Byte-fallback SentencePiece vocabulary: specials, <0x00>..<0xFF>, then pieces (every word prefix included so the
 * bigram merges of the SPM tokenizer can reach whole words). */
function buildVocabulary(): Vocabulary {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const add = (text: string, type: number): void => {
    tokens.push(text);
    scores.push(type === TOKEN_TYPE.normal ? -tokens.length : 0);
    types.push(type);
  };
  add('<unk>', TOKEN_TYPE.unknown);
  add('<s>', TOKEN_TYPE.control);
  add('</s>', TOKEN_TYPE.control);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, TOKEN_TYPE.byte);
  add('<|im_start|>', TOKEN_TYPE.control);
  add('<|im_end|>', TOKEN_TYPE.control);

  const pieces = new Set<string>([SPACE]);
  for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') pieces.add(c);
  for (const c of PUNCTUATION) pieces.add(c);
  for (const c of COMMON_CHINESE) pieces.add(c);
  for (const word of COMMON_WORDS) {
    const spaced = SPACE + word;
    for (let i = 2; i <= spaced.length; i++) pieces.add(spaced.slice(0, i));
  }
  for (const p of pieces) add(p, TOKEN_TYPE.normal);
  return { tokens, scores, types, bosId: 1, eosId: 2, unkId: 0 };
}

/** mulberry32: a tiny seeded PRNG, enough for reproducible noise weights. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function buildTensors(vocabSize: number, seed: number): GgufTensor[] {
  const h = DEMO_MODEL_HPARAMS;
  const random = seededRandom(seed);
  const headDim = h.embeddingLength / h.headCount;
  const kvDim = headDim * h.headCountKv;
  const noise = (dims: readonly number[]): GgufTensor['data'] => {
    const n = dims.reduce((a, b) => a * b, 1);
    const scale = 1 / Math.sqrt(dims[0] ?? 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (random() * 2 - 1) * scale;
    return data;
  };
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
  const weight = (name: string, dims: readonly number[]): GgufTensor => ({ name, dims, data: noise(dims) });

  const tensors: GgufTensor[] = [weight('token_embd.weight', [h.embeddingLength, vocabSize])];
  for (let layer = 0; layer < h.blockCount; layer++) {
    const p = `blk.${layer}`;
    tensors.push(
      { name: `${p}.attn_norm.weight`, dims: [h.embeddingLength], data: ones(h.embeddingLength) },
      weight(`${p}.attn_q.weight`, [h.embeddingLength, h.embeddingLength]),
      weight(`${p}.attn_k.weight`, [h.embeddingLength, kvDim]),
      weight(`${p}.attn_v.weight`, [h.embeddingLength, kvDim]),
      weight(`${p}.attn_output.weight`, [h.embeddingLength, h.embeddingLength]),
      { name: `${p}.ffn_norm.weight`, dims: [h.embeddingLength], data: ones(h.embeddingLength) },
      weight(`${p}.ffn_gate.weight`, [h.embeddingLength, h.feedForwardLength]),
      weight(`${p}.ffn_up.weight`, [h.embeddingLength, h.feedForwardLength]),
      weight(`${p}.ffn_down.weight`, [h.feedForwardLength, h.embeddingLength]),
    );
  }
  tensors.push(
    { name: 'output_norm.weight', dims: [h.embeddingLength], data: ones(h.embeddingLength) },
    weight('output.weight', [h.embeddingLength, vocabSize]),
  );
  return tensors;
}

/** ChatML, which node-llama-cpp recognises and renders with its own ChatML wrapper. */
const CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Builds the demo model's bytes. */
export function buildDemoModel(seed = 20240611): Buffer {
  const h = DEMO_MODEL_HPARAMS;
  const vocab = buildVocabulary();
  const headDim = h.embeddingLength / h.headCount;
  const metadata: Array<readonly [string, GgufValue]> = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: 'groupgate-demo-tiny (random weights, answers are noise)' }],
    ['general.file_type', { type: 'uint32', value: 0 }],
    ['llama.context_length', { type: 'uint32', value: h.contextLength }],
    ['llama.embedding_length', { type: 'uint32', value: h.embeddingLength }],
    ['llama.block_count', { type: 'uint32', value: h.blockCount }],
    ['llama.feed_forward_length', { type: 'uint32', value: h.feedForwardLength }],
    ['llama.attention.head_count', { type: 'uint32', value: h.headCount }],
    ['llama.attention.head_count_kv', { type: 'uint32', value: h.headCountKv }],
    ['llama.rope.dimension_count', { type: 'uint32', value: headDim }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'float32', value: h.rmsEpsilon }],
    ['llama.vocab_size', { type: 'uint32', value: vocab.tokens.length }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: 'float32[]', value: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'int32[]', value: vocab.types }],
    ['tokenizer.ggml.bos_token_id', { type: 'uint32', value: vocab.bosId }],
    ['tokenizer.ggml.eos_token_id', { type: 'uint32', value: vocab.eosId }],
    ['tokenizer.ggml.unknown_token_id', { type: 'uint32', value: vocab.unkId }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    ['tokenizer.chat_template', { type: 'string', value: CHAT_TEMPLATE }],
  ];
  return encodeGguf({ metadata, tensors: buildTensors(vocab.tokens.length, seed) });
}

/** Writes the demo model to `path` (atomically, creating folders) and returns its size in bytes. */
export async function writeDemoModel(path: string, seed?: number): Promise<number> {
  const bytes = buildDemoModel(seed);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
  return bytes.length;
}

/** Writes the demo model only if `path` does not exist yet; returns the path. */
export async function ensureDemoModel(path: string): Promise<string> {
  const existing = await stat(path).catch(() => undefined);
  if (!existing) await writeDemoModel(path);
  return path;
}
