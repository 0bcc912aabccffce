import type { Pcm16 } from './wav';

/** Half-width of the interpolation kernel, in input samples at the lower of the two rates. */
const KERNEL_HALF_WIDTH = 16;

/** Averages interleaved channels into one. */
export function toMono(pcm: Pcm16): Pcm16 {
  if (pcm.channels === 1) return pcm;
  const frames = Math.floor(pcm.samples.length / pcm.channels);
  const out = new Int16Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < pcm.channels; c++) sum += pcm.samples[f * pcm.channels + c] ?? 0;
    out[f] = Math.round(sum / pcm.channels);
  }
  return { sampleRate: pcm.sampleRate, channels: 1, samples: out };
}

/**
 * Band-limited resampling of mono 16-bit PCM (windowed sinc, Hann window, cut-off at 0.45 × the lower rate) so that
 * down-sampling does not fold the content above the new Nyquist frequency back into the speech band. espeak-ng
 * writes 22,050 Hz and pocketsphinx's en-us model wants 16,000 Hz; plain linear interpolation aliases 8–11 kHz
 * hiss into it.
 */
export function resample(pcm: Pcm16, targetRate: number): Pcm16 {
  if (pcm.channels !== 1) throw new RangeError('resample takes mono audio: call toMono first');
  if (!Number.isInteger(targetRate) || targetRate < 1000) throw new RangeError(`bad target rate ${targetRate}`);
  if (pcm.sampleRate === targetRate) return pcm;
  const input = pcm.samples;
  // Polyphase: output i sits at input position i × M / L, so its fractional offset takes only L values; the kernel
  // is computed once per offset (320 × 46 taps for 22,050 → 16,000 Hz) instead of once per output sample.
  const divisor = gcd(pcm.sampleRate, targetRate);
  const up = targetRate / divisor;
  const down = pcm.sampleRate / divisor;
  const step = down / up;
  const outLength = Math.floor((input.length * up) / down);
  // Cut-off as a fraction of the input rate; when down-sampling the kernel widens by the ratio.
  const cutoff = (0.45 * Math.min(pcm.sampleRate, targetRate)) / pcm.sampleRate;
  const halfWidth = Math.ceil(KERNEL_HALF_WIDTH * Math.max(1, step));
  const taps = 2 * halfWidth;
  const kernel = (t: number): number => {
    const sinc = t === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * t) / (Math.PI * t);
    return sinc * 0.5 * (1 + Math.cos((Math.PI * t) / halfWidth));
  };
  const table = new Float64Array(up * taps);
  for (let phase = 0; phase < up; phase++) {
    for (let j = 0; j < taps; j++) table[phase * taps + j] = kernel(phase / up + halfWidth - 1 - j);
  }
  const out = new Int16Array(outLength);
  for (let i = 0; i < outLength; i++) {
    const centre = Math.floor((i * down) / up);
    const row = ((i * down) % up) * taps;
    const first = centre - halfWidth + 1;
    let acc = 0;
    for (let j = 0; j < taps; j++) {
      const k = first + j;
      if (k >= 0 && k < input.length) acc += (input[k] ?? 0) * (table[row + j] ?? 0);
    }
    out[i] = Math.max(-32768, Math.min(32767, Math.round(acc)));
  }
  return { sampleRate: targetRate, channels: 1, samples: out };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
