import { createLocalAsr } from '#voice/local-asr';
import { createLocalTts } from '#voice/local-tts';
import type { SpeechFormat } from '#voice/ports';
import { resample, toMono } from '#voice/resample';
import { parseWav } from '#voice/wav';
import { percentile } from './stats';

/**
 * `--only voice`: the sandbox's local voice engines on this machine. Real-time factor (processing time ÷ audio
 * length; below 1 is faster than real time) of recognition (pocketsphinx, including the TS resampler or opusdec and
 * the process start) and of synthesis (espeak-ng), for clips of about 2, 6 and 15 s, as WAV and as Ogg/Opus.
 */
export interface VoiceBenchRow {
  readonly clip: string;
  readonly format: SpeechFormat;
  readonly audioSeconds: number;
  readonly runs: number;
  readonly asrP50Ms: number;
  readonly asrRtf: number;
  readonly ttsP50Ms: number;
  readonly ttsRtf: number;
  /** What pocketsphinx heard on the last run. */
  readonly transcript: string;
}

export interface VoiceBenchResult {
  readonly rows: readonly VoiceBenchRow[];
  /** ms to resample one second of espeak-ng's 22,050 Hz output to 16 kHz (the pure-TS polyphase resampler). */
  readonly resampleMsPerAudioSecond: number;
}

const SENTENCE = 'how many people work here';
const CLIPS: readonly { readonly name: string; readonly text: string }[] = [
  { name: 'short', text: SENTENCE },
  { name: 'medium', text: `${SENTENCE}. what is the capital of france. tell me about the weather in london.` },
  {
    name: 'long',
    text: Array.from(
      { length: 3 },
      () => `${SENTENCE}. what is the capital of france. tell me about the weather in london.`,
    ).join(' '),
  },
];

export async function runVoiceBench(options: {
  runs: number;
  progress: (line: string) => void;
}): Promise<VoiceBenchResult> {
  const asr = createLocalAsr({ maxSeconds: 120 });
  const tts = createLocalTts({ maxChars: 3000 });
  const rows: VoiceBenchRow[] = [];
  for (const clip of CLIPS) {
    for (const format of ['wav', 'ogg_opus'] as const) {
      options.progress(`voice: ${clip.name} clip as ${format}`);
      const asrMs: number[] = [];
      const ttsMs: number[] = [];
      let audioSeconds = 0;
      let transcript = '';
      for (let run = 0; run < options.runs; run++) {
        const t0 = performance.now();
        const spoken = await tts.synthesize(clip.text, { language: 'en-US', format });
        ttsMs.push(performance.now() - t0);
        audioSeconds = spoken.durationSeconds;
        const t1 = performance.now();
        const heard = await asr.transcribe(spoken, { language: 'en-US', signal: AbortSignal.timeout(120_000) });
        asrMs.push(performance.now() - t1);
        transcript = heard.text;
      }
      const asrP50Ms = percentile(sorted(asrMs), 50);
      const ttsP50Ms = percentile(sorted(ttsMs), 50);
      rows.push({
        clip: clip.name,
        format,
        audioSeconds,
        runs: options.runs,
        asrP50Ms,
        asrRtf: asrP50Ms / 1000 / audioSeconds,
        ttsP50Ms,
        ttsRtf: ttsP50Ms / 1000 / audioSeconds,
        transcript,
      });
    }
  }
  const long = await tts.synthesize(CLIPS[2]?.text ?? SENTENCE, { language: 'en-US', format: 'wav' });
  const pcm = toMono(parseWav(long.bytes));
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    resample(pcm, 16_000);
    times.push(performance.now() - t0);
  }
  return { rows, resampleMsPerAudioSecond: percentile(sorted(times), 50) / long.durationSeconds };
}

function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function voiceReport(result: VoiceBenchResult): string {
  const lines = [
    'Local voice engines (sandbox): real-time factor = processing time / audio length, p50',
    'clip     format    audio s  ASR p50 ms  ASR RTF  TTS p50 ms  TTS RTF',
    ...result.rows.map(
      (r) =>
        `${r.clip.padEnd(8)} ${r.format.padEnd(9)} ${r.audioSeconds.toFixed(1).padStart(7)}  ${r.asrP50Ms.toFixed(0).padStart(10)}  ${r.asrRtf.toFixed(3).padStart(7)}  ${r.ttsP50Ms.toFixed(0).padStart(10)}  ${r.ttsRtf.toFixed(3).padStart(7)}`,
    ),
    `resampling 22,050 → 16,000 Hz: ${result.resampleMsPerAudioSecond.toFixed(2)} ms per audio second`,
  ];
  return lines.join('\n');
}
