import { VoiceError } from './voice-error';

/** 16-bit PCM audio in memory: interleaved samples when `channels` > 1. */
export interface Pcm16 {
  readonly sampleRate: number;
  readonly channels: number;
  readonly samples: Int16Array;
}

/** What a WAV file's headers say, read without touching the samples. */
export interface WavInfo {
  readonly sampleRate: number;
  readonly channels: number;
  readonly bitsPerSample: number;
  /** Byte offset and length of the `data` chunk's samples actually present (a streamed header's size is clamped). */
  readonly dataOffset: number;
  readonly dataBytes: number;
  readonly durationSeconds: number;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** Highest rate accepted: above this a header is more likely corrupt than real. */
const MAX_SAMPLE_RATE = 192_000;

function ascii(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + 4));
}

/**
 * Reads a RIFF/WAVE header. Accepts 16-bit integer PCM only (format 1, or WAVE_FORMAT_EXTENSIBLE with the PCM
 * sub-format), mono or stereo. A `data` size larger than the file (`espeak-ng --stdout` writes 0x7ffffff0 because it
 * streams) is clamped to the bytes present.
 * @throws VoiceError `corrupt` for a broken header, `unsupported_codec` for other encodings.
 */
export function readWavInfo(bytes: Uint8Array): WavInfo {
  if (bytes.length < 12 || ascii(bytes, 0) !== 'RIFF' || ascii(bytes, 8) !== 'WAVE') {
    throw new VoiceError('corrupt', 'not a WAV file (no RIFF/WAVE header)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 12;
  let format: { tag: number; channels: number; sampleRate: number; bits: number; blockAlign: number } | undefined;
  while (offset + 8 <= bytes.length) {
    const id = ascii(bytes, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) throw new VoiceError('corrupt', 'WAV fmt chunk is cut short');
      let tag = view.getUint16(body, true);
      if (tag === WAVE_FORMAT_EXTENSIBLE && size >= 40 && body + 26 <= bytes.length) {
        // The sub-format GUID starts with the format code.
        tag = view.getUint16(body + 24, true);
      }
      format = {
        tag,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        blockAlign: view.getUint16(body + 12, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!format) throw new VoiceError('corrupt', 'WAV data chunk comes before its fmt chunk');
      if (format.tag !== WAVE_FORMAT_PCM) {
        throw new VoiceError('unsupported_codec', `WAV encoding ${format.tag} is not supported: send 16-bit PCM`);
      }
      if (format.bits !== 16) {
        throw new VoiceError('unsupported_codec', `${format.bits}-bit WAV is not supported: send 16-bit PCM`);
      }
      if (format.channels < 1 || format.channels > 2) {
        throw new VoiceError('unsupported_codec', `WAV with ${format.channels} channels is not supported`);
      }
      if (
        format.sampleRate < 1000 ||
        format.sampleRate > MAX_SAMPLE_RATE ||
        format.blockAlign !== format.channels * 2
      ) {
        throw new VoiceError('corrupt', 'WAV header has an impossible sample rate or block size');
      }
      const present = Math.min(size, bytes.length - body);
      const dataBytes = present - (present % format.blockAlign);
      return {
        sampleRate: format.sampleRate,
        channels: format.channels,
        bitsPerSample: format.bits,
        dataOffset: body,
        dataBytes,
        durationSeconds: dataBytes / format.blockAlign / format.sampleRate,
      };
    }
    // Chunks are word-aligned: an odd size has one pad byte.
    offset = body + size + (size % 2);
  }
  throw new VoiceError('corrupt', 'WAV file has no data chunk');
}

/** The samples of a 16-bit PCM WAV file (copied, so the result is aligned whatever the input's offset). */
export function parseWav(bytes: Uint8Array): Pcm16 & { readonly durationSeconds: number } {
  const info = readWavInfo(bytes);
  const samples = new Int16Array(info.dataBytes / 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset + info.dataOffset, info.dataBytes);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
  return { sampleRate: info.sampleRate, channels: info.channels, samples, durationSeconds: info.durationSeconds };
}

/** A canonical 44-byte-header 16-bit PCM WAV file. */
export function writeWav(pcm: Pcm16): Uint8Array {
  const dataBytes = pcm.samples.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const text = (offset: number, value: string) => {
    for (let i = 0; i < 4; i++) out[offset + i] = value.charCodeAt(i);
  };
  text(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, WAVE_FORMAT_PCM, true);
  view.setUint16(22, pcm.channels, true);
  view.setUint32(24, pcm.sampleRate, true);
  view.setUint32(28, pcm.sampleRate * pcm.channels * 2, true);
  view.setUint16(32, pcm.channels * 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, dataBytes, true);
  for (let i = 0; i < pcm.samples.length; i++) view.setInt16(44 + i * 2, pcm.samples[i] ?? 0, true);
  return out;
}
