// The official SDK, loaded for its generated `pbbp2` codec (it registers it in protobufjs's default root on load).
import '@larksuiteoapi/node-sdk';
import * as protobuf from 'protobufjs/minimal';
import {
  decodeFeishuFrame,
  encodeFeishuFrame,
  type FeishuFrame,
  type FrameDecodeError,
  frameHeader,
} from '#connector/feishu-ws-frames';
import { ackFrame, pingFrame, pongFrame } from '#connector/feishu-ws-protocol';

/**
 * The hand-rolled `pbbp2.Frame` codec against the official SDK's protobufjs codec (@larksuiteoapi/node-sdk 1.74.0,
 * a devDependency, used here only), both ways and byte for byte, then against hostile bytes: the decoder must return
 * a typed error for anything that is not a frame, never throw, never read past its buffer.
 */

interface SdkFrame {
  SeqID: number;
  LogID: number;
  service: number;
  method: number;
  headers: { key: string; value: string }[];
  payloadEncoding?: string;
  payloadType?: string;
  payload?: Uint8Array;
  LogIDNew?: string;
}

interface SdkFrameCodec {
  encode(message: SdkFrame): { finish(): Uint8Array };
  decode(bytes: Uint8Array): SdkFrame;
}

function isSdkFrameCodec(value: unknown): value is SdkFrameCodec {
  return (
    typeof value === 'function' &&
    'encode' in value &&
    typeof value.encode === 'function' &&
    'decode' in value &&
    typeof value.decode === 'function'
  );
}

/** `pbbp2.Frame` as the SDK generated it (its `lib/index.js` sets `$root.pbbp2` on protobufjs's default root). */
function sdkCodec(): SdkFrameCodec {
  const root: unknown = protobuf.roots.default;
  const pbbp2: unknown = typeof root === 'object' && root !== null && 'pbbp2' in root ? root.pbbp2 : undefined;
  const frame: unknown = typeof pbbp2 === 'object' && pbbp2 !== null && 'Frame' in pbbp2 ? pbbp2.Frame : undefined;
  if (!isSdkFrameCodec(frame)) throw new Error('the SDK did not register pbbp2.Frame');
  return frame;
}

const SDK = sdkCodec();
const text = (s: string) => new TextEncoder().encode(s);

/** Ours → the SDK's field names (uint64 as numbers: the SDK unsets protobufjs's Long, so only ≤ 2^53 compare). */
function toSdk(frame: FeishuFrame): SdkFrame {
  return {
    SeqID: Number(frame.seqId),
    LogID: Number(frame.logId),
    service: frame.service,
    method: frame.method,
    headers: frame.headers.map((h) => ({ ...h })),
    ...(frame.payloadEncoding === undefined ? {} : { payloadEncoding: frame.payloadEncoding }),
    ...(frame.payloadType === undefined ? {} : { payloadType: frame.payloadType }),
    ...(frame.payload === undefined ? {} : { payload: frame.payload }),
    ...(frame.logIdNew === undefined ? {} : { LogIDNew: frame.logIdNew }),
  };
}

/** What the SDK decoded, as plain data (fields it did not see are absent, not its prototype defaults). */
function fromSdk(decoded: SdkFrame) {
  const own = (key: keyof SdkFrame) => Object.hasOwn(decoded, key);
  return {
    SeqID: Number(decoded.SeqID),
    LogID: Number(decoded.LogID),
    service: decoded.service,
    method: decoded.method,
    headers: decoded.headers.map((h) => ({ key: h.key, value: h.value })),
    ...(own('payloadEncoding') ? { payloadEncoding: decoded.payloadEncoding } : {}),
    ...(own('payloadType') ? { payloadType: decoded.payloadType } : {}),
    ...(own('payload') && decoded.payload ? { payload: Uint8Array.from(decoded.payload) } : {}),
    ...(own('LogIDNew') ? { LogIDNew: decoded.LogIDNew } : {}),
  };
}

function decoded(bytes: Uint8Array): FeishuFrame {
  const result = decodeFeishuFrame(bytes);
  if (!result.ok) throw new Error(result.reason);
  return result.value;
}

function failure(bytes: Uint8Array): FrameDecodeError {
  const result = decodeFeishuFrame(bytes);
  if (result.ok) throw new Error('decoded hostile bytes as a frame');
  return result.error;
}

const eventPart: FeishuFrame = {
  seqId: 7_340_032n,
  logId: 9_007_199_254_740_991n,
  service: 33_554_678,
  method: 1,
  headers: [
    { key: 'type', value: 'event' },
    { key: 'message_id', value: 'f0f6a1c2-message' },
    { key: 'sum', value: '3' },
    { key: 'seq', value: '1' },
    { key: 'trace_id', value: '链路-7f' },
  ],
  payload: text('{"schema":"2.0","header":{"event_id":"e1"},"event":{"text":"你好 👋"}}'),
};

const FRAMES: Readonly<Record<string, FeishuFrame>> = {
  ping: pingFrame(33_554_678),
  pong: pongFrame(33_554_678, { PingInterval: 90, ReconnectCount: -1, ReconnectInterval: 120, ReconnectNonce: 30 }),
  'event part': eventPart,
  ack: ackFrame(eventPart, 412),
  'every field, negative service, empty payload': {
    seqId: 1n,
    logId: 2n,
    service: -1,
    method: 0,
    headers: [{ key: '', value: '' }],
    payloadEncoding: 'gzip',
    payloadType: 'json',
    payload: new Uint8Array(),
    logIdNew: 'log-new-🚀',
  },
  'large payload': { ...eventPart, payload: new Uint8Array(70_000).fill(0x61), headers: [] },
};

describe('pbbp2.Frame codec ↔ the official SDK’s protobufjs codec', () => {
  it.each(Object.entries(FRAMES))('%s: our bytes are the SDK’s bytes, and each decodes the other’s', (_, frame) => {
    const ours = encodeFeishuFrame(frame);
    const theirs = SDK.encode(toSdk(frame)).finish();
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
    expect(fromSdk(SDK.decode(ours))).toEqual(fromSdk(toSdk(frame)));
    expect(decoded(theirs)).toEqual(frame);
  });

  it('keeps uint64 ids exact past 2^53, which the SDK’s codec rounds', () => {
    const big: FeishuFrame = { ...FRAMES.ping!, seqId: 2n ** 53n + 1n, logId: 2n ** 64n - 1n };
    const bytes = encodeFeishuFrame(big);
    expect(decoded(bytes)).toMatchObject({ seqId: 2n ** 53n + 1n, logId: 2n ** 64n - 1n });
    expect(BigInt(SDK.decode(bytes).SeqID)).not.toBe(2n ** 53n + 1n);
  });

  it('skips unknown fields of every wire type it can skip', () => {
    const unknown = Uint8Array.from([
      // field 20 varint 300; field 21 fixed64; field 22 length 3; field 23 fixed32
      0xa0, 0x01, 0xac, 0x02, 0xa9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0xb2, 0x01, 3, 9, 9, 9, 0xbd, 0x01, 1, 2, 3, 4,
    ]);
    const bytes = Buffer.concat([encodeFeishuFrame(eventPart), unknown]);
    expect(decoded(bytes)).toEqual(eventPart);
    expect(fromSdk(SDK.decode(bytes))).toEqual(fromSdk(toSdk(eventPart)));
  });

  it('refuses to encode values outside their types', () => {
    expect(() => encodeFeishuFrame({ ...eventPart, seqId: -1n })).toThrow(RangeError);
    expect(() => encodeFeishuFrame({ ...eventPart, logId: 2n ** 64n })).toThrow(RangeError);
    expect(() => encodeFeishuFrame({ ...eventPart, service: 2 ** 31 })).toThrow(RangeError);
    expect(() => encodeFeishuFrame({ ...eventPart, method: 1.5 })).toThrow(RangeError);
  });

  it('reads a repeated header key as its last value', () => {
    const frame = { ...eventPart, headers: [...eventPart.headers, { key: 'sum', value: '4' }] };
    expect(frameHeader(decoded(encodeFeishuFrame(frame)), 'sum')).toBe('4');
    expect(frameHeader(frame, 'absent')).toBeUndefined();
  });
});

describe('hostile bytes: a typed error, never an exception, never a read past the buffer', () => {
  const valid = encodeFeishuFrame(eventPart);

  it('every truncation of a frame is an error or a shorter frame that re-encodes to a prefix', () => {
    for (let cut = 0; cut < valid.length; cut++) {
      const result = decodeFeishuFrame(valid.subarray(0, cut));
      if (result.ok) {
        const again = Buffer.from(encodeFeishuFrame(result.value));
        expect(Buffer.from(valid.subarray(0, again.length)).equals(again)).toBe(true);
      } else {
        expect(['truncated', 'missing_field']).toContain(result.error.kind);
      }
    }
    expect(failure(valid.subarray(0, valid.length - 1))).toMatchObject({ kind: 'truncated', field: 8 });
    expect(failure(new Uint8Array())).toMatchObject({ kind: 'missing_field', field: 1 });
  });

  it('stops at the end of its view even when the bytes go on in the underlying buffer', () => {
    const view = new Uint8Array(valid.buffer.slice(0), 0, valid.length - 5);
    expect(failure(view)).toMatchObject({ kind: 'truncated' });
  });

  it('refuses a length past the end, however large', () => {
    const head = encodeFeishuFrame({ ...eventPart, headers: [], payload: undefined });
    const huge = (length: number[]) => Buffer.concat([head, Uint8Array.from([0x42, ...length, 1, 2, 3])]);
    expect(failure(huge([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))).toMatchObject({ kind: 'truncated', field: 8 });
    expect(failure(huge([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toMatchObject({
      kind: 'truncated',
      field: 8,
    });
    expect(failure(huge([4]))).toMatchObject({ kind: 'truncated', message: expect.stringContaining('3 bytes left') });
  });

  it('refuses varints past 64 bits and truncated varints', () => {
    expect(failure(Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual(
      expect.objectContaining({ kind: 'overflow', field: 1 }),
    );
    expect(failure(Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]))).toEqual(
      expect.objectContaining({ kind: 'overflow', message: 'varint exceeds 64 bits' }),
    );
    expect(failure(Uint8Array.from([0x08, 0x80]))).toMatchObject({ kind: 'truncated', field: 1 });
    expect(failure(Uint8Array.from([0x80]))).toMatchObject({ kind: 'truncated' });
  });

  it('refuses known fields with the wrong wire type, groups and field 0', () => {
    const head = encodeFeishuFrame({ ...eventPart, headers: [], payload: undefined });
    const withTail = (...tail: number[]) => Buffer.concat([head, Uint8Array.from(tail)]);
    // SeqID as length-delimited; headers as a varint; payload as fixed32.
    expect(failure(withTail(0x0a, 1, 0))).toMatchObject({ kind: 'wire_type', field: 1 });
    expect(failure(withTail(0x28, 1))).toMatchObject({ kind: 'wire_type', field: 5 });
    expect(failure(withTail(0x45, 1, 2, 3, 4))).toMatchObject({ kind: 'wire_type', field: 8 });
    // An unknown field as a group (wire type 3), and wire type 7.
    expect(failure(withTail(0xa3, 0x01))).toMatchObject({ kind: 'wire_type', field: 20 });
    expect(failure(withTail(0xa7, 0x01))).toMatchObject({ kind: 'wire_type', field: 20 });
    expect(failure(withTail(0x02, 0))).toMatchObject({ kind: 'invalid_field', message: 'field number 0' });
    expect(failure(withTail(0xbd, 0x01, 1, 2))).toMatchObject({ kind: 'truncated', field: 23 });
  });

  it('refuses a header without its value, and strings that are not UTF-8', () => {
    const head = encodeFeishuFrame({ ...eventPart, headers: [], payload: undefined });
    // A header message holding only `key: "type"`.
    const keyOnly = Buffer.concat([head, Uint8Array.from([0x2a, 6, 0x0a, 4, ...text('type')])]);
    expect(failure(keyOnly)).toMatchObject({ kind: 'missing_field', field: 5 });
    const badKey = Buffer.concat([head, Uint8Array.from([0x2a, 6, 0x0a, 1, 0xff, 0x12, 1, 0x61])]);
    expect(failure(badKey)).toMatchObject({ kind: 'invalid_field', field: 5 });
    const badEncoding = Buffer.concat([head, Uint8Array.from([0x32, 2, 0xc3, 0x28])]);
    expect(failure(badEncoding)).toMatchObject({ kind: 'invalid_field', field: 6 });
    // A header whose own length runs past the frame.
    expect(failure(Buffer.concat([head, Uint8Array.from([0x2a, 9, 0x0a, 1])]))).toMatchObject({
      kind: 'truncated',
      field: 5,
    });
  });

  it('refuses frames missing a required field', () => {
    const noMethod = Uint8Array.from([0x08, 1, 0x10, 2, 0x18, 3]);
    expect(failure(noMethod)).toMatchObject({ kind: 'missing_field', field: 4 });
  });

  it('survives 5,000 random and mutated inputs without throwing', () => {
    let seed = 0x5eed;
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const kinds = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      let bytes: Uint8Array;
      if (i % 2 === 0) {
        bytes = Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
      } else {
        bytes = Uint8Array.from(valid);
        for (let flips = 1 + Math.floor(rand() * 4); flips > 0; flips--) {
          bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
        }
      }
      const result = decodeFeishuFrame(bytes);
      kinds.add(result.ok ? 'ok' : result.error.kind);
    }
    expect(
      [...kinds].every((k) =>
        ['ok', 'truncated', 'overflow', 'wire_type', 'missing_field', 'invalid_field'].includes(k),
      ),
    ).toBe(true);
    expect(kinds.size).toBeGreaterThanOrEqual(4);
  });
});
