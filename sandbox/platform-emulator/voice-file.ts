import { probeAudio } from '#voice/audio';
import type { EmulatedAudio, EmulatedFile } from './types';

/**
 * Which shared files the emulators present as voice messages (Feishu `audio`, a Slack `audio/*` file): those whose
 * name says audio. Formats no engine takes (MP3, WebM, …) are audio too, so the worker's "unsupported" reply can be
 * tried from the page.
 */
const AUDIO_TYPES: Readonly<Record<string, string>> = {
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  webm: 'audio/webm',
  amr: 'audio/amr',
  flac: 'audio/flac',
};

/** The media type of a shared file the emulators treat as a voice message, or undefined for any other file. */
export function emulatedAudioType(file: Pick<EmulatedFile, 'name'>): string | undefined {
  const extension = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase();
  return extension === undefined ? undefined : AUDIO_TYPES[extension];
}

/** The clip's length in ms as its headers say (Feishu's `duration`); 0 when they cannot be read, as for bad input. */
export function emulatedAudioDurationMs(file: EmulatedFile): number {
  try {
    return Math.round(probeAudio({ bytes: file.bytes, mediaType: '' }, 86_400).durationSeconds * 1000);
  } catch {
    return 0;
  }
}

/**
 * What the emulators keep of a spoken answer the bot uploaded as a plain file (Slack, DingTalk), so the page can play
 * it: an Ogg file (sniffed: `OggS`), with `durationMs` as declared or, when the platform takes none, from its headers.
 * Undefined for any other file (the page plays only Ogg).
 */
export function storedAudio(bytes: Uint8Array, durationMs?: number): EmulatedAudio | undefined {
  const data = Buffer.from(bytes);
  if (data.subarray(0, 4).toString('latin1') !== 'OggS') return undefined;
  return {
    mediaType: 'audio/ogg',
    data: data.toString('base64'),
    durationMs: durationMs ?? emulatedAudioDurationMs({ name: 'speech.ogg', bytes: data }),
  };
}
