import { VoiceError } from './voice-error';

/** What an Ogg file's pages say: its codec and length, read without decoding any audio. */
export interface OggInfo {
  readonly codec: 'opus' | 'vorbis';
  readonly channels: number;
  /** Opus always runs at 48 kHz (its granule clock); Vorbis at the rate its identification header names. */
  readonly sampleRate: number;
  readonly durationSeconds: number;
}

const PAGE_HEADER_BYTES = 27;
const OPUS_GRANULE_RATE = 48_000;

/** Ogg's CRC-32: polynomial 0x04C11DB7, no reflection, initial value 0 (RFC 3533 §6). */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

function pageCrc(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    // The checksum field itself (bytes 22..25 of the page) counts as zero.
    const byte = i - start >= 22 && i - start < 26 ? 0 : (bytes[i] ?? 0);
    crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] ?? 0)) >>> 0;
  }
  return crc;
}

function startsWith(bytes: Uint8Array, text: string): boolean {
  if (bytes.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * Reads an Ogg file's pages (every page's CRC is checked), the codec from its first packet and the duration from the
 * last granule position of that stream: Opus `(granule − pre-skip) / 48000` (RFC 7845 §4), Vorbis `granule / rate`.
 * Feishu `audio` messages are Ogg/Opus; so is what Polly writes for `ogg_opus`.
 * @throws VoiceError `corrupt` (bad page, CRC mismatch, cut short), `unsupported_codec` (Speex, FLAC, …).
 */
export function readOggInfo(bytes: Uint8Array): OggInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  let serial: number | undefined;
  let head: { codec: 'opus' | 'vorbis'; channels: number; sampleRate: number; preSkip: number } | undefined;
  let lastGranule = -1n;
  while (offset < bytes.length) {
    if (offset + PAGE_HEADER_BYTES > bytes.length || !startsWith(bytes.subarray(offset), 'OggS')) {
      throw new VoiceError('corrupt', `Ogg page expected at byte ${offset}`);
    }
    const segments = bytes[offset + 26] ?? 0;
    const tableEnd = offset + PAGE_HEADER_BYTES + segments;
    if (tableEnd > bytes.length) throw new VoiceError('corrupt', 'Ogg page header is cut short');
    let bodyBytes = 0;
    for (let i = offset + PAGE_HEADER_BYTES; i < tableEnd; i++) bodyBytes += bytes[i] ?? 0;
    const end = tableEnd + bodyBytes;
    if (end > bytes.length) throw new VoiceError('corrupt', 'Ogg page is cut short');
    if (pageCrc(bytes, offset, end) !== view.getUint32(offset + 22, true)) {
      throw new VoiceError('corrupt', `Ogg page at byte ${offset} fails its checksum`);
    }
    const pageSerial = view.getUint32(offset + 14, true);
    if (serial === undefined) {
      serial = pageSerial;
      head = identify(bytes.subarray(tableEnd, end));
    }
    if (pageSerial === serial) {
      const granule = view.getBigInt64(offset + 6, true);
      if (granule !== -1n) lastGranule = granule;
    }
    offset = end;
  }
  if (!head) throw new VoiceError('corrupt', 'empty Ogg file');
  const samples = lastGranule < 0n ? 0n : lastGranule - BigInt(head.preSkip);
  const rate = head.codec === 'opus' ? OPUS_GRANULE_RATE : head.sampleRate;
  return {
    codec: head.codec,
    channels: head.channels,
    sampleRate: head.sampleRate,
    durationSeconds: Math.max(0, Number(samples)) / rate,
  };
}

function identify(packet: Uint8Array): {
  codec: 'opus' | 'vorbis';
  channels: number;
  sampleRate: number;
  preSkip: number;
} {
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  if (startsWith(packet, 'OpusHead')) {
    if (packet.length < 19) throw new VoiceError('corrupt', 'Opus identification header is cut short');
    return {
      codec: 'opus',
      channels: packet[9] ?? 0,
      sampleRate: OPUS_GRANULE_RATE,
      preSkip: view.getUint16(10, true),
    };
  }
  if (startsWith(packet, '\x01vorbis')) {
    if (packet.length < 16) throw new VoiceError('corrupt', 'Vorbis identification header is cut short');
    const sampleRate = view.getUint32(12, true);
    if (sampleRate === 0) throw new VoiceError('corrupt', 'Vorbis header names a sample rate of 0');
    return { codec: 'vorbis', channels: packet[11] ?? 0, sampleRate, preSkip: 0 };
  }
  const name = startsWith(packet, 'Speex') ? 'Speex' : startsWith(packet, '\x7fFLAC') ? 'FLAC' : 'this codec';
  throw new VoiceError('unsupported_codec', `Ogg with ${name} is not supported: send Opus`);
}
