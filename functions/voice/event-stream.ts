import { crc32 } from 'node:zlib';
import { VoiceError } from './voice-error';

/**
 * The AWS event stream encoding (`application/vnd.amazon.eventstream`), as Amazon Transcribe's WebSocket API frames
 * audio and transcripts: a 12-byte prelude (total length, headers length, CRC-32 of those 8 bytes), headers, payload,
 * and a CRC-32 of everything before it. All integers big-endian. Only string headers are written; every header type
 * is read (and skipped when not a string).
 */
export interface EventStreamMessage {
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Uint8Array;
}

const PRELUDE_BYTES = 12;
const HEADER_STRING = 7;
/** Bytes of each fixed-size header value type (0–9), -1 for the length-prefixed ones (6 bytes, 7 string). */
const VALUE_BYTES = [0, 0, 1, 2, 4, 8, -1, -1, 8, 16];

export function encodeEventMessage(message: EventStreamMessage): Uint8Array {
  const headers = Object.entries(message.headers).map(([name, value]) => {
    const nameBytes = Buffer.from(name, 'utf8');
    const valueBytes = Buffer.from(value, 'utf8');
    const out = Buffer.alloc(1 + nameBytes.length + 1 + 2 + valueBytes.length);
    out.writeUInt8(nameBytes.length, 0);
    nameBytes.copy(out, 1);
    out.writeUInt8(HEADER_STRING, 1 + nameBytes.length);
    out.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
    valueBytes.copy(out, 4 + nameBytes.length);
    return out;
  });
  const headerBytes = Buffer.concat(headers);
  const total = PRELUDE_BYTES + headerBytes.length + message.payload.length + 4;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headerBytes.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  headerBytes.copy(out, PRELUDE_BYTES);
  Buffer.from(message.payload).copy(out, PRELUDE_BYTES + headerBytes.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}

/**
 * Splits `bytes` into messages (a WebSocket frame normally holds one).
 * @throws VoiceError `unavailable` when a message is cut short or fails its checksum: the service's answer is unusable.
 */
export function decodeEventMessages(bytes: Uint8Array): EventStreamMessage[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const messages: EventStreamMessage[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    if (offset + PRELUDE_BYTES > buffer.length) throw broken('prelude cut short');
    const total = buffer.readUInt32BE(offset);
    const headersLength = buffer.readUInt32BE(offset + 4);
    if (crc32(buffer.subarray(offset, offset + 8)) !== buffer.readUInt32BE(offset + 8))
      throw broken('prelude checksum');
    if (total < PRELUDE_BYTES + 4 + headersLength || offset + total > buffer.length) throw broken('length');
    const end = offset + total;
    if (crc32(buffer.subarray(offset, end - 4)) !== buffer.readUInt32BE(end - 4)) throw broken('message checksum');
    const headers: Record<string, string> = {};
    let h = offset + PRELUDE_BYTES;
    const headersEnd = h + headersLength;
    while (h < headersEnd) {
      const nameLength = buffer.readUInt8(h);
      const name = buffer.toString('utf8', h + 1, h + 1 + nameLength);
      const type = buffer.readUInt8(h + 1 + nameLength);
      h += 2 + nameLength;
      const fixed = VALUE_BYTES[type];
      if (fixed === undefined) throw broken(`header type ${type}`);
      if (fixed >= 0) {
        h += fixed;
        continue;
      }
      const valueLength = buffer.readUInt16BE(h);
      if (type === HEADER_STRING) headers[name] = buffer.toString('utf8', h + 2, h + 2 + valueLength);
      h += 2 + valueLength;
    }
    if (h !== headersEnd) throw broken('headers overrun');
    messages.push({ headers, payload: new Uint8Array(buffer.subarray(headersEnd, end - 4)) });
    offset = end;
  }
  return messages;
}

function broken(what: string): VoiceError {
  return new VoiceError('unavailable', `the speech service sent a broken event stream message (${what})`);
}
