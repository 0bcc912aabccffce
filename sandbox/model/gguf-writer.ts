/**
 * A minimal GGUF v3 writer (format: ggml `docs/gguf.md`). Little-endian throughout:
 * header (magic "GGUF", version 3, tensor count u64, metadata count u64) → metadata key/values → tensor infos
 * (name, dims with ne[0] innermost, ggml type, offset relative to the data section) → padding to `alignment` →
 * tensor data, each tensor starting on an `alignment` boundary.
 * Only what the demo model needs is supported: F32 tensors and the scalar/array value types below.
 */

/** GGUF metadata value types (gguf.md `gguf_metadata_value_type`). */
const VALUE_TYPE = {
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
} as const;

/** ggml tensor type id for 32-bit floats. */
const GGML_TYPE_F32 = 0;

export const GGUF_DEFAULT_ALIGNMENT = 32;

export type GgufValue =
  | { type: 'uint32'; value: number }
  | { type: 'int32'; value: number }
  | { type: 'float32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'float32[]'; value: readonly number[] }
  | { type: 'int32[]'; value: readonly number[] };

export interface GgufTensor {
  name: string;
  /** ggml order: `dims[0]` is the innermost (contiguous) dimension. */
  dims: readonly number[];
  data: Float32Array;
}

export interface GgufFile {
  metadata: ReadonlyArray<readonly [key: string, value: GgufValue]>;
  tensors: readonly GgufTensor[];
  /** Written as `general.alignment` when it differs from 32. @default 32 */
  alignment?: number;
}

class ByteSink {
  private readonly chunks: Buffer[] = [];
  length = 0;

  push(buf: Buffer): void {
    this.chunks.push(buf);
    this.length += buf.length;
  }
  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.push(b);
  }
  i32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.push(b);
  }
  u64(n: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.push(b);
  }
  f32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.push(b);
  }
  str(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  padTo(alignment: number): void {
    const rem = this.length % alignment;
    if (rem !== 0) this.push(Buffer.alloc(alignment - rem));
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function writeValue(sink: ByteSink, v: GgufValue): void {
  switch (v.type) {
    case 'uint32':
      sink.u32(VALUE_TYPE.uint32);
      sink.u32(v.value);
      return;
    case 'int32':
      sink.u32(VALUE_TYPE.int32);
      sink.i32(v.value);
      return;
    case 'float32':
      sink.u32(VALUE_TYPE.float32);
      sink.f32(v.value);
      return;
    case 'bool':
      sink.u32(VALUE_TYPE.bool);
      sink.push(Buffer.from([v.value ? 1 : 0]));
      return;
    case 'string':
      sink.u32(VALUE_TYPE.string);
      sink.str(v.value);
      return;
    case 'string[]':
      sink.u32(VALUE_TYPE.array);
      sink.u32(VALUE_TYPE.string);
      sink.u64(v.value.length);
      for (const s of v.value) sink.str(s);
      return;
    case 'float32[]':
      sink.u32(VALUE_TYPE.array);
      sink.u32(VALUE_TYPE.float32);
      sink.u64(v.value.length);
      for (const n of v.value) sink.f32(n);
      return;
    case 'int32[]':
      sink.u32(VALUE_TYPE.array);
      sink.u32(VALUE_TYPE.int32);
      sink.u64(v.value.length);
      for (const n of v.value) sink.i32(n);
      return;
  }
}

/** Serialises a GGUF v3 file. Throws if a tensor's data length does not match its dims. */
export function encodeGguf(file: GgufFile): Buffer {
  const alignment = file.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const metadata: Array<readonly [string, GgufValue]> = [...file.metadata];
  if (alignment !== GGUF_DEFAULT_ALIGNMENT) metadata.push(['general.alignment', { type: 'uint32', value: alignment }]);

  const sink = new ByteSink();
  sink.push(Buffer.from('GGUF', 'ascii'));
  sink.u32(3);
  sink.u64(file.tensors.length);
  sink.u64(metadata.length);
  for (const [key, value] of metadata) {
    sink.str(key);
    writeValue(sink, value);
  }

  let offset = 0;
  const offsets: number[] = [];
  for (const t of file.tensors) {
    const elements = t.dims.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) {
      throw new Error(`tensor ${t.name}: dims ${t.dims.join('x')} need ${elements} values, got ${t.data.length}`);
    }
    offsets.push(offset);
    offset += Math.ceil((elements * 4) / alignment) * alignment;
  }
  file.tensors.forEach((t, i) => {
    sink.str(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(d);
    sink.u32(GGML_TYPE_F32);
    sink.u64(offsets[i] ?? 0);
  });

  sink.padTo(alignment);
  for (const t of file.tensors) {
    sink.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    sink.padTo(alignment);
  }
  return sink.toBuffer();
}
