import { isUtf8 } from 'node:buffer';

/**
 * Feishu/Lark long connection's wire format: every binary WebSocket message is one protobuf (proto2) `pbbp2.Frame`.
 * Hand-rolled (varint and length-delimited fields only) instead of protobufjs: nine fields do not justify a runtime
 * dependency, and the official SDK's generated codec reads uint64 into JS numbers (it unsets `util.Long`), which
 * loses precision past 2^53. Shared by the connector's client (`feishu-ws.ts`) and the sandbox's emulator
 * (`sandbox/platform-emulator/feishu-ws.ts`); cross-checked against the SDK's codec in
 * `test/unit/connector/feishu-ws-frames.test.ts`. Schema (node-sdk `ws-client/proto-buf/pbbp2.js`, §3.1):
 *
 *   message Header { required string key = 1; required string value = 2; }
 *   message Frame {
 *     required uint64 SeqID = 1; required uint64 LogID = 2; required int32 service = 3; required int32 method = 4;
 *     repeated Header headers = 5; optional string payloadEncoding = 6; optional string payloadType = 7;
 *     optional bytes payload = 8; optional string LogIDNew = 9;
 *   }
 */

export interface FeishuFrameHeader {
  readonly key: string;
  readonly value: string;
}

export interface FeishuFrame {
  /** `SeqID` (1, uint64): a bigint, so no id loses precision. */
  readonly seqId: bigint;
  /** `LogID` (2, uint64). */
  readonly logId: bigint;
  /** `service` (3, int32): the `service_id` of the socket URL. */
  readonly service: number;
  /** `method` (4, int32): 0 control (ping/pong), 1 data (event/card). */
  readonly method: number;
  /** `headers` (5): `type`, `message_id`, `sum`, `seq`, `trace_id`, `biz_rt`, … in wire order. */
  readonly headers: readonly FeishuFrameHeader[];
  /** `payloadEncoding` (6). */
  readonly payloadEncoding?: string;
  /** `payloadType` (7). */
  readonly payloadType?: string;
  /** `payload` (8): an event's JSON (or one part of it), a pong's ClientConfig JSON, an ack's `{"code":200}`. */
  readonly payload?: Uint8Array;
  /** `LogIDNew` (9). */
  readonly logIdNew?: string;
}

/** Why bytes are not a frame. `offset` is where the reader stood; nothing of the content is kept. */
export interface FrameDecodeError {
  readonly kind: 'truncated' | 'overflow' | 'wire_type' | 'missing_field' | 'invalid_field';
  readonly offset: number;
  readonly field?: number;
  readonly message: string;
}

/** A decoded frame or a typed error: decoding never throws, whatever the bytes. */
export type FrameDecodeResult =
  | { readonly ok: true; readonly value: FeishuFrame }
  | { readonly ok: false; readonly reason: string; readonly error: FrameDecodeError };

const WIRE = { varint: 0, fixed64: 1, len: 2, fixed32: 5 } as const;
const UINT64_MAX = (1n << 64n) - 1n;

// ---- encoding ----

/**
 * Encodes a frame: fields 1–4 always (they are required), headers in order, optional fields when set, in field order.
 * @throws RangeError for a value outside its type (a uint64 below 0 or above 2^64−1, a service/method outside int32).
 */
export function encodeFeishuFrame(frame: FeishuFrame): Uint8Array {
  const parts: Uint8Array[] = [
    key(1, WIRE.varint),
    varint(uint64(frame.seqId, 'SeqID')),
    key(2, WIRE.varint),
    varint(uint64(frame.logId, 'LogID')),
    key(3, WIRE.varint),
    varint(int32(frame.service, 'service')),
    key(4, WIRE.varint),
    varint(int32(frame.method, 'method')),
  ];
  for (const header of frame.headers) {
    parts.push(...lengthDelimited(5, concat([...stringField(1, header.key), ...stringField(2, header.value)])));
  }
  if (frame.payloadEncoding !== undefined) parts.push(...stringField(6, frame.payloadEncoding));
  if (frame.payloadType !== undefined) parts.push(...stringField(7, frame.payloadType));
  if (frame.payload !== undefined) parts.push(...lengthDelimited(8, frame.payload));
  if (frame.logIdNew !== undefined) parts.push(...stringField(9, frame.logIdNew));
  return concat(parts);
}

function uint64(value: bigint, name: string): bigint {
  if (value < 0n || value > UINT64_MAX) throw new RangeError(`${name} is not a uint64: ${value}`);
  return value;
}

/** int32 on the wire: a varint of the value sign-extended to 64 bits (10 bytes when negative), as protobuf has it. */
function int32(value: number, name: string): bigint {
  if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) {
    throw new RangeError(`${name} is not an int32: ${value}`);
  }
  return BigInt.asUintN(64, BigInt(value));
}

function varint(value: bigint): Uint8Array {
  const bytes: number[] = [];
  if (value < 0x8000_0000n) {
    // Keys, lengths, small ids and non-negative int32s: number arithmetic, no bigint per byte.
    let small = Number(value);
    while (small >= 0x80) {
      bytes.push((small & 0x7f) | 0x80);
      small >>>= 7;
    }
    bytes.push(small);
    return new Uint8Array(bytes);
  }
  let rest = value;
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return new Uint8Array(bytes);
}

function key(field: number, wire: number): Uint8Array {
  return varint(BigInt(field * 8 + wire));
}

function lengthDelimited(field: number, bytes: Uint8Array): Uint8Array[] {
  return [key(field, WIRE.len), varint(BigInt(bytes.length)), bytes];
}

function stringField(field: number, value: string): Uint8Array[] {
  // Buffer.from: a few times faster than TextEncoder on the short strings headers are.
  return lengthDelimited(field, Buffer.from(value, 'utf8'));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// ---- decoding ----

/** Thrown inside the decoder only, and turned into a `FrameDecodeError` at its one entry point. */
class DecodeFailure extends Error {
  constructor(readonly detail: FrameDecodeError) {
    super(detail.message);
  }
}

/**
 * A cursor over `bytes[pos, end)` that never reads past `end`: every varint, length and skip is checked against the
 * bytes left first, so a truncated or lying frame is a `DecodeFailure`, never an out-of-bounds read.
 */
class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
    private readonly end: number,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(kind: FrameDecodeError['kind'], message: string, field?: number): never {
    throw new DecodeFailure({ kind, offset: this.pos, ...(field === undefined ? {} : { field }), message });
  }

  /** An unsigned varint of at most 64 bits (10 bytes, the 10th holding one bit). */
  varint(field?: number): bigint {
    // The first four bytes (28 bits) as a number: keys and lengths end there.
    let low = 0;
    for (let i = 0; i < 4; i++) {
      if (this.pos >= this.end) this.fail('truncated', 'truncated varint', field);
      const byte = this.bytes[this.pos++] ?? 0;
      low |= (byte & 0x7f) << (7 * i);
      if (byte < 0x80) return BigInt(low);
    }
    let value = BigInt(low);
    for (let i = 4; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated', 'truncated varint', field);
      const byte = this.bytes[this.pos++] ?? 0;
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if (byte < 0x80) {
        if (i === 9 && byte > 1) this.fail('overflow', 'varint exceeds 64 bits', field);
        return value;
      }
    }
    return this.fail('overflow', 'varint longer than 10 bytes', field);
  }

  /** A length-delimited field's bytes; its length may not run past the end of the enclosing message. */
  lengthDelimited(field: number): Uint8Array {
    const length = this.varint(field);
    const left = this.end - this.pos;
    if (length > BigInt(left)) {
      this.fail('truncated', `field ${field}: length ${length} runs past the end (${left} bytes left)`, field);
    }
    const start = this.pos;
    this.pos += Number(length);
    return this.bytes.subarray(start, this.pos);
  }

  string(field: number): string {
    const bytes = this.lengthDelimited(field);
    // Checked, then decoded: Buffer's decoder alone would replace bad bytes instead of refusing them.
    if (!isUtf8(bytes)) this.fail('invalid_field', `field ${field} is not valid UTF-8`, field);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  }

  /** Skips an unknown field by its wire type; groups (3, 4) and the undefined types (6, 7) are refused. */
  skip(field: number, wire: number): void {
    if (wire === WIRE.varint) this.varint(field);
    else if (wire === WIRE.len) this.lengthDelimited(field);
    else if (wire === WIRE.fixed64 || wire === WIRE.fixed32) {
      const size = wire === WIRE.fixed64 ? 8 : 4;
      if (this.end - this.pos < size) this.fail('truncated', `field ${field}: truncated fixed${size * 8}`, field);
      this.pos += size;
    } else this.fail('wire_type', `field ${field}: unsupported wire type ${wire}`, field);
  }

  /** The next field's number and wire type. */
  key(): { readonly field: number; readonly wire: number } {
    const tag = this.varint();
    if (tag > 0xffff_ffffn) this.fail('overflow', 'field key exceeds 32 bits');
    const field = Number(tag >> 3n);
    if (field === 0) this.fail('invalid_field', 'field number 0');
    return { field, wire: Number(tag & 7n) };
  }

  expectWire(field: number, actual: number, expected: number): void {
    if (actual !== expected) {
      this.fail('wire_type', `field ${field} has wire type ${actual}, expected ${expected}`, field);
    }
  }
}

/** Field number → the wire type the schema gives it (unknown fields are skipped by their own). */
const FRAME_WIRE: Readonly<Record<number, number>> = {
  1: WIRE.varint,
  2: WIRE.varint,
  3: WIRE.varint,
  4: WIRE.varint,
  5: WIRE.len,
  6: WIRE.len,
  7: WIRE.len,
  8: WIRE.len,
  9: WIRE.len,
};

/**
 * Decodes one frame. Unknown fields are skipped; a known field with the wrong wire type, a missing required field
 * (SeqID, LogID, service, method; a header's key and value), a truncated varint or a length past the end is a
 * typed error. Never throws.
 */
export function decodeFeishuFrame(bytes: Uint8Array): FrameDecodeResult {
  try {
    return { ok: true, value: readFrame(new Reader(bytes, 0, bytes.length)) };
  } catch (err) {
    const error: FrameDecodeError =
      err instanceof DecodeFailure
        ? err.detail
        : { kind: 'invalid_field', offset: 0, message: err instanceof Error ? err.message : String(err) };
    return { ok: false, reason: `not a pbbp2.Frame: ${error.message} (at byte ${error.offset})`, error };
  }
}

function readFrame(reader: Reader): FeishuFrame {
  let seqId: bigint | undefined;
  let logId: bigint | undefined;
  let service: number | undefined;
  let method: number | undefined;
  const headers: FeishuFrameHeader[] = [];
  const optional: {
    payloadEncoding?: string;
    payloadType?: string;
    payload?: Uint8Array;
    logIdNew?: string;
  } = {};
  while (!reader.done) {
    const { field, wire } = reader.key();
    const expected = FRAME_WIRE[field];
    if (expected === undefined) {
      reader.skip(field, wire);
      continue;
    }
    reader.expectWire(field, wire, expected);
    switch (field) {
      case 1:
        seqId = reader.varint(field);
        break;
      case 2:
        logId = reader.varint(field);
        break;
      case 3:
        service = Number(BigInt.asIntN(32, reader.varint(field)));
        break;
      case 4:
        method = Number(BigInt.asIntN(32, reader.varint(field)));
        break;
      case 5:
        headers.push(readHeader(reader, reader.lengthDelimited(field)));
        break;
      case 6:
        optional.payloadEncoding = reader.string(field);
        break;
      case 7:
        optional.payloadType = reader.string(field);
        break;
      case 8:
        // A copy (not `Buffer#slice`, which shares memory): the frame may outlive the socket's receive buffer
        // (multi-part events wait for their other parts).
        optional.payload = new Uint8Array(reader.lengthDelimited(field));
        break;
      default:
        optional.logIdNew = reader.string(field);
    }
  }
  if (seqId === undefined) reader.fail('missing_field', 'missing required SeqID (1)', 1);
  if (logId === undefined) reader.fail('missing_field', 'missing required LogID (2)', 2);
  if (service === undefined) reader.fail('missing_field', 'missing required service (3)', 3);
  if (method === undefined) reader.fail('missing_field', 'missing required method (4)', 4);
  return { seqId, logId, service, method, headers, ...optional };
}

/** A `Header` message inside field 5: its own bounds are the field's bytes. */
function readHeader(outer: Reader, bytes: Uint8Array): FeishuFrameHeader {
  const base = outer.pos - bytes.length;
  const reader: Reader = new Reader(bytes, 0, bytes.length);
  let key: string | undefined;
  let value: string | undefined;
  try {
    while (!reader.done) {
      const tag = reader.key();
      if (tag.field === 1 || tag.field === 2) {
        reader.expectWire(tag.field, tag.wire, WIRE.len);
        if (tag.field === 1) key = reader.string(1);
        else value = reader.string(2);
      } else reader.skip(tag.field, tag.wire);
    }
    if (key === undefined) reader.fail('missing_field', 'header without its required key');
    if (value === undefined) reader.fail('missing_field', `header ${JSON.stringify(key)} without its required value`);
    return { key, value };
  } catch (err) {
    // Offsets inside the header are reported from the start of the frame, and the field is the header's (5).
    if (err instanceof DecodeFailure) {
      throw new DecodeFailure({
        ...err.detail,
        offset: base + err.detail.offset,
        field: 5,
        message: `header: ${err.detail.message}`,
      });
    }
    throw err;
  }
}

// ---- helpers ----

/** A header's value (the last one, when a key repeats), or undefined. */
export function frameHeader(frame: FeishuFrame, name: string): string | undefined {
  for (let i = frame.headers.length - 1; i >= 0; i--) {
    const header = frame.headers[i];
    if (header?.key === name) return header.value;
  }
  return undefined;
}
