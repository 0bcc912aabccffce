import { readOggInfo } from './ogg';
import type { AudioClip } from './ports';
import { VoiceError } from './voice-error';
import { readWavInfo } from './wav';

/** A clip's container, codec and length, from its headers alone. */
export interface AudioProbe {
  readonly container: 'wav' | 'ogg';
  readonly codec: 'pcm_s16le' | 'opus' | 'vorbis';
  readonly channels: number;
  readonly sampleRate: number;
  readonly durationSeconds: number;
}

/** Magic numbers of formats members send that no engine here takes, so the reply can name what was sent. */
const KNOWN_UNSUPPORTED: readonly { readonly name: string; readonly test: (b: Uint8Array) => boolean }[] = [
  {
    name: 'MP3',
    test: (b) => (b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33) || (b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0),
  },
  { name: 'AMR', test: (b) => String.fromCharCode(...b.subarray(0, 5)) === '#!AMR' },
  { name: 'MP4/M4A', test: (b) => String.fromCharCode(...b.subarray(4, 8)) === 'ftyp' },
  { name: 'WebM', test: (b) => b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3 },
  { name: 'FLAC', test: (b) => String.fromCharCode(...b.subarray(0, 4)) === 'fLaC' },
];

/**
 * Sniffs the bytes (the media type is only the sender's claim) and reads the duration from the headers, then enforces
 * the cap before any engine spends time on the audio.
 * @throws VoiceError `too_long` over `maxSeconds`, `corrupt`, `unsupported_codec`.
 */
export function probeAudio(clip: AudioClip, maxSeconds: number): AudioProbe {
  const { bytes } = clip;
  if (bytes.length < 4) throw new VoiceError('corrupt', 'the voice message is empty');
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  let probe: AudioProbe;
  if (magic === 'RIFF') {
    const wav = readWavInfo(bytes);
    probe = {
      container: 'wav',
      codec: 'pcm_s16le',
      channels: wav.channels,
      sampleRate: wav.sampleRate,
      durationSeconds: wav.durationSeconds,
    };
  } else if (magic === 'OggS') {
    const ogg = readOggInfo(bytes);
    probe = { container: 'ogg', ...ogg };
  } else {
    const known = KNOWN_UNSUPPORTED.find((format) => format.test(bytes));
    throw new VoiceError(
      known ? 'unsupported_codec' : 'corrupt',
      known
        ? `${known.name} audio is not supported: send Ogg/Opus or 16-bit WAV`
        : `not an audio file this bot reads (${clip.mediaType || 'no media type'})`,
    );
  }
  if (probe.durationSeconds > maxSeconds) {
    throw new VoiceError(
      'too_long',
      `the voice message is ${Math.ceil(probe.durationSeconds)} s long; the limit is ${maxSeconds} s`,
    );
  }
  return probe;
}
