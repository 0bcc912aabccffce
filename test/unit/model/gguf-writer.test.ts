import { buildDemoModel, DEMO_MODEL_HPARAMS } from '../../../sandbox/model/demo-model';
import { encodeGguf } from '../../../sandbox/model/gguf-writer';

/** A minimal independent GGUF reader for the value types the writer emits. */
function readGguf(buf: Buffer) {
  let pos = 0;
  const u32 = () => {
    const v = buf.readUInt32LE(pos);
    pos += 4;
    return v;
  };
  const u64 = () => {
    const v = Number(buf.readBigUInt64LE(pos));
    pos += 8;
    return v;
  };
  const str = () => {
    const n = u64();
    const s = buf.toString('utf8', pos, pos + n);
    pos += n;
    return s;
  };
  const scalar = (type: number): unknown => {
    switch (type) {
      case 4:
        return u32();
      case 5: {
        const v = buf.readInt32LE(pos);
        pos += 4;
        return v;
      }
      case 6: {
        const v = buf.readFloatLE(pos);
        pos += 4;
        return v;
      }
      case 7:
        return buf[pos++] === 1;
      case 8:
        return str();
      default:
        throw new Error(`unexpected type ${type}`);
    }
  };
  const magic = buf.toString('ascii', 0, 4);
  pos = 4;
  const version = u32();
  const tensorCount = u64();
  const kvCount = u64();
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const type = u32();
    if (type === 9) {
      const inner = u32();
      const n = u64();
      metadata.set(
        key,
        Array.from({ length: n }, () => scalar(inner)),
      );
    } else metadata.set(key, scalar(type));
  }
  const tensors = Array.from({ length: tensorCount }, () => {
    const name = str();
    const dims = Array.from({ length: u32() }, () => u64());
    return { name, dims, type: u32(), offset: u64() };
  });
  const dataStart = Math.ceil(pos / 32) * 32;
  return { magic, version, metadata, tensors, dataStart };
}

describe('encodeGguf', () => {
  it('writes header, metadata, tensor infos and 32-byte aligned tensor data', () => {
    const a = new Float32Array([1, 2, 3]);
    const b = new Float32Array([4, 5, 6, 7, 8, 9]);
    const buf = encodeGguf({
      metadata: [
        ['general.architecture', { type: 'string', value: 'llama' }],
        ['x.count', { type: 'uint32', value: 7 }],
        ['x.flag', { type: 'bool', value: true }],
        ['x.names', { type: 'string[]', value: ['a', '▁b', '<0x0A>'] }],
      ],
      tensors: [
        { name: 'a', dims: [3], data: a },
        { name: 'b', dims: [3, 2], data: b },
      ],
    });
    const parsed = readGguf(buf);
    expect(parsed.magic).toBe('GGUF');
    expect(parsed.version).toBe(3);
    expect(Object.fromEntries(parsed.metadata)).toEqual({
      'general.architecture': 'llama',
      'x.count': 7,
      'x.flag': true,
      'x.names': ['a', '▁b', '<0x0A>'],
    });
    expect(parsed.tensors).toEqual([
      { name: 'a', dims: [3], type: 0, offset: 0 },
      { name: 'b', dims: [3, 2], type: 0, offset: 32 },
    ]);
    const readTensor = (offset: number, n: number) =>
      Array.from({ length: n }, (_, i) => buf.readFloatLE(parsed.dataStart + offset + i * 4));
    expect(readTensor(0, 3)).toEqual([1, 2, 3]);
    expect(readTensor(32, 6)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(buf.length % 32).toBe(0);
  });

  it('rejects a tensor whose data does not match its dims', () => {
    expect(() =>
      encodeGguf({ metadata: [], tensors: [{ name: 't', dims: [2, 2], data: new Float32Array(3) }] }),
    ).toThrow(/need 4 values, got 3/);
  });
});

describe('buildDemoModel', () => {
  const model = buildDemoModel();
  const parsed = readGguf(model);

  it('is small and deterministic for a seed', () => {
    expect(model.length).toBeLessThan(2 * 1024 * 1024);
    expect(buildDemoModel().equals(model)).toBe(true);
    expect(buildDemoModel(1).equals(model)).toBe(false);
  });

  it('declares a llama model with a byte-fallback SentencePiece vocabulary and a chat template', () => {
    const md = parsed.metadata;
    expect(md.get('general.architecture')).toBe('llama');
    expect(md.get('llama.embedding_length')).toBe(DEMO_MODEL_HPARAMS.embeddingLength);
    expect(md.get('llama.block_count')).toBe(DEMO_MODEL_HPARAMS.blockCount);
    expect(md.get('tokenizer.ggml.model')).toBe('llama');
    const tokens = md.get('tokenizer.ggml.tokens') as string[];
    const types = md.get('tokenizer.ggml.token_type') as number[];
    expect(tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(tokens[3]).toBe('<0x00>');
    expect(tokens[258]).toBe('<0xFF>');
    expect(types.slice(3, 259).every((t) => t === 6)).toBe(true);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens).toContain('▁the');
    expect((md.get('tokenizer.ggml.scores') as number[]).length).toBe(tokens.length);
    expect(md.get('tokenizer.ggml.bos_token_id')).toBe(1);
    expect(md.get('tokenizer.ggml.eos_token_id')).toBe(2);
    expect(md.get('tokenizer.chat_template')).toContain('<|im_start|>');
  });

  it('has every llama tensor with ggml dims that match the hyper-parameters', () => {
    const h = DEMO_MODEL_HPARAMS;
    const vocab = (parsed.metadata.get('tokenizer.ggml.tokens') as string[]).length;
    const dims = new Map(parsed.tensors.map((t) => [t.name, t.dims]));
    const kv = (h.embeddingLength / h.headCount) * h.headCountKv;
    expect(dims.get('token_embd.weight')).toEqual([h.embeddingLength, vocab]);
    expect(dims.get('output.weight')).toEqual([h.embeddingLength, vocab]);
    expect(dims.get('output_norm.weight')).toEqual([h.embeddingLength]);
    for (let l = 0; l < h.blockCount; l++) {
      expect(dims.get(`blk.${l}.attn_k.weight`)).toEqual([h.embeddingLength, kv]);
      expect(dims.get(`blk.${l}.ffn_down.weight`)).toEqual([h.feedForwardLength, h.embeddingLength]);
      expect(dims.get(`blk.${l}.ffn_gate.weight`)).toEqual([h.embeddingLength, h.feedForwardLength]);
    }
    expect(parsed.tensors).toHaveLength(3 + 9 * h.blockCount);
    expect(parsed.tensors.every((t) => t.offset % 32 === 0)).toBe(true);
  });
});
