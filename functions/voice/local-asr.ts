import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { probeAudio } from './audio';
import type { AudioClip, SpeechToText, TranscribeOptions, Transcript } from './ports';
import { resample, toMono } from './resample';
import { runTool } from './tool-process';
import { VoiceError } from './voice-error';
import { type Pcm16, parseWav, writeWav } from './wav';

/** Debian's pocketsphinx-en-us model (the continuous en-US acoustic model, trigram LM and CMU dictionary). */
export const POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';
/** The rate the en-us acoustic model was trained at. */
const ASR_RATE = 16_000;
const INSTALL_HINT = 'apt-get install pocketsphinx pocketsphinx-en-us opus-tools';

export interface LocalAsrOptions {
  /** Longest audio accepted, seconds (`VOICE_MAX_SECONDS`). */
  readonly maxSeconds: number;
  /** Kill the recogniser after this long. @default 30_000 */
  readonly timeoutMs?: number;
  /** @default POCKETSPHINX_MODEL_DIR */
  readonly modelDir?: string;
}

/**
 * Speech recognition on this machine (the sandbox): `pocketsphinx_continuous` with Debian's en-US model, fed a 16 kHz
 * mono 16-bit WAV file (in a private temporary directory, removed after). WAV input is down-mixed and resampled in TypeScript; Ogg/Opus is decoded to 16 kHz by
 * `opusdec` (opus-tools) first. English only: the Debian archive has no Mandarin pocketsphinx model.
 */
export function createLocalAsr(options: LocalAsrOptions): SpeechToText {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const modelDir = options.modelDir ?? POCKETSPHINX_MODEL_DIR;

  async function decode(clip: AudioClip, signal: AbortSignal): Promise<Pcm16> {
    const probe = probeAudio(clip, options.maxSeconds);
    if (probe.codec === 'pcm_s16le') return parseWav(clip.bytes);
    if (probe.codec !== 'opus') {
      throw new VoiceError('unsupported_codec', 'Ogg/Vorbis is not supported by local recognition: send Opus');
    }
    const raw = await runTool({
      command: 'opusdec',
      args: ['--quiet', '--rate', String(ASR_RATE), '-', '-'],
      input: clip.bytes,
      timeoutMs,
      // 16-bit samples at 16 kHz for the capped duration, per channel, with a second of slack.
      maxOutputBytes: (options.maxSeconds + 1) * ASR_RATE * 2 * Math.max(1, probe.channels),
      signal,
      installHint: INSTALL_HINT,
    });
    const samples = new Int16Array(Math.floor(raw.length / 2));
    for (let i = 0; i < samples.length; i++) samples[i] = raw.readInt16LE(i * 2);
    return { sampleRate: ASR_RATE, channels: Math.max(1, probe.channels), samples };
  }

  return {
    engine: 'local',
    async transcribe(audio: AudioClip, { language, signal }: TranscribeOptions): Promise<Transcript> {
      if (language !== undefined && language !== 'en-US') {
        throw new VoiceError('unavailable', `local recognition understands English (en-US) only, not ${language}`);
      }
      const pcm = await decode(audio, signal);
      const durationSeconds = pcm.samples.length / pcm.channels / pcm.sampleRate;
      const wav = writeWav(resample(toMono(pcm), ASR_RATE));
      // A file, not stdin: Node's stdio pipes are sockets, which pocketsphinx cannot fopen as /dev/stdin.
      const dir = await mkdtemp(path.join(os.tmpdir(), 'groupgate-asr-'));
      let stdout: Buffer;
      try {
        const input = path.join(dir, 'audio.wav');
        await writeFile(input, wav);
        stdout = await runTool({
          command: 'pocketsphinx_continuous',
          args: [
            '-infile',
            input,
            '-hmm',
            path.join(modelDir, 'en-us'),
            '-lm',
            path.join(modelDir, 'en-us.lm.bin'),
            '-dict',
            path.join(modelDir, 'cmudict-en-us.dict'),
            '-logfn',
            '/dev/null',
          ],
          timeoutMs,
          maxOutputBytes: 64 * 1024,
          signal,
          installHint: INSTALL_HINT,
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      // One hypothesis line per utterance the recogniser segmented.
      const text = stdout
        .toString('utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.length > 0)
        .join(' ');
      return { text, language: 'en-US', durationSeconds };
    },
  };
}
