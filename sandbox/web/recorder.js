/*
 * Records a voice message in the page as a 16 kHz mono 16-bit PCM WAV: the one format both the local recogniser and
 * the platforms' voice paths here take. MediaRecorder is not used: Chromium records WebM/Opus with it, which no engine
 * here decodes (docs/VOICE.md). The microphone's samples are collected by an AudioWorklet
 * (recorder-worklet.js), then down-mixed, resampled and encoded here.
 */

/** The rate the recognisers work at (pocketsphinx's en-US model, Transcribe's PCM). */
export const WAV_RATE = 16_000;
/** A shorter recording is not sent: a click, not a question. */
export const MIN_RECORDING_SECONDS = 0.3;

/** Why recording could not start, as a sentence for the page; nothing was recorded or sent. */
export class RecordingError extends Error {}

/** getUserMedia's DOMException → a RecordingError a member can act on. */
function explainMicrophoneError(err) {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return new RecordingError(
      'Microphone access was refused: allow the microphone for this page (the icon in the address bar), then try again. Nothing was sent.',
    );
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') {
    return new RecordingError('No microphone was found: connect one and try again. Nothing was sent.');
  }
  if (name === 'NotReadableError' || name === 'AbortError') {
    return new RecordingError(
      'The microphone could not be opened (another program may be using it). Nothing was sent.',
    );
  }
  return new RecordingError(
    `Recording could not start: ${err instanceof Error ? err.message : String(err)}. Nothing was sent.`,
  );
}

/**
 * Opens the microphone and records until `stop()` or `cancel()`, or `maxSeconds` (then `onLimit` is called and the
 * caller stops). `onTick(seconds)` reports the length recorded, about 4 times a second.
 * @returns {Promise<{stop(): Promise<{wav: Uint8Array, seconds: number}>, cancel(): void}>}
 * @throws RecordingError when the page cannot record (not a secure page, no microphone, permission refused)
 */
export async function startRecording({ maxSeconds, onTick, onLimit }) {
  if (!window.isSecureContext) {
    throw new RecordingError(
      `Browsers only record on secure pages: open this page at http://localhost:${location.port || '80'} (or over https). Nothing was sent.`,
    );
  }
  if (!navigator.mediaDevices?.getUserMedia || typeof AudioWorkletNode === 'undefined') {
    throw new RecordingError('This browser cannot record audio here. Nothing was sent.');
  }
  let stream;
  try {
    // The raw signal: echo cancellation and noise suppression are for calls, and change speech.
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (err) {
    throw explainMicrophoneError(err);
  }
  const context = new AudioContext();
  const release = () => {
    for (const track of stream.getTracks()) track.stop();
    context.close().catch(() => undefined);
  };
  try {
    await context.audioWorklet.addModule('/assets/recorder-worklet.js');
  } catch (err) {
    release();
    throw new RecordingError(`Recording could not start: ${err.message}. Nothing was sent.`);
  }
  const source = context.createMediaStreamSource(stream);
  const collector = new AudioWorkletNode(context, 'pcm-collector');
  const chunks = [];
  let frames = 0;
  let limited = false;
  const limitFrames = Math.floor(maxSeconds * context.sampleRate);
  let ended = () => undefined;
  collector.port.onmessage = (event) => {
    if (event.data === 'end') return ended();
    if (frames >= limitFrames) return;
    const chunk = event.data.subarray(0, limitFrames - frames);
    chunks.push(chunk);
    frames += chunk.length;
    if (frames >= limitFrames && !limited) {
      limited = true;
      onLimit();
    }
  };
  source.connect(collector);
  // Not connected to the speakers: the member would hear themselves.
  const ticker = setInterval(() => onTick(frames / context.sampleRate), 250);
  const finish = () => {
    clearInterval(ticker);
    source.disconnect();
    collector.port.onmessage = null;
    release();
  };
  return {
    async stop() {
      // The worklet's last, part-filled block; a worklet that does not answer costs only those few milliseconds.
      await new Promise((resolve) => {
        ended = resolve;
        setTimeout(resolve, 500);
        collector.port.postMessage('flush');
      });
      finish();
      const samples = new Float32Array(frames);
      let at = 0;
      for (const chunk of chunks) {
        samples.set(chunk, at);
        at += chunk.length;
      }
      const resampled = resample(samples, context.sampleRate, WAV_RATE);
      return { wav: encodeWav(resampled, WAV_RATE), seconds: frames / context.sampleRate };
    },
    cancel: finish,
  };
}

/** Taps either side of each output sample; 16 keep the band edge sharp at any capture rate. */
const HALF_TAPS = 16;

/**
 * Windowed-sinc resampling (Blackman window), low-passed below the new Nyquist frequency so nothing above it folds
 * into the speech band, as `functions/voice/resample.ts` does for the engines.
 */
export function resample(samples, fromRate, toRate) {
  if (fromRate === toRate) return samples;
  const ratio = fromRate / toRate;
  const cutoff = Math.min(1, toRate / fromRate) * 0.95;
  const reach = Math.ceil(HALF_TAPS * Math.max(1, ratio));
  const out = new Float32Array(Math.floor(samples.length / ratio));
  for (let i = 0; i < out.length; i++) {
    const centre = i * ratio;
    const first = Math.max(0, Math.ceil(centre - reach));
    const last = Math.min(samples.length - 1, Math.floor(centre + reach));
    let sum = 0;
    let weights = 0;
    for (let j = first; j <= last; j++) {
      const x = j - centre;
      const w = cutoff * sinc(cutoff * x) * blackman(x / reach);
      sum += samples[j] * w;
      weights += w;
    }
    out[i] = weights === 0 ? 0 : sum / weights;
  }
  return out;
}

const sinc = (x) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
/** Blackman window over [-1, 1]. */
const blackman = (t) => 0.42 + 0.5 * Math.cos(Math.PI * t) + 0.08 * Math.cos(2 * Math.PI * t);

/** A RIFF WAVE file: mono, 16-bit little-endian PCM, the samples clipped to [-1, 1]. */
export function encodeWav(samples, rate) {
  const bytes = new Uint8Array(44 + samples.length * 2);
  const view = new DataView(bytes.buffer);
  const ascii = (at, text) => {
    for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 2, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true); // bytes per second
  view.setUint16(32, 2, true); // block align
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return bytes;
}
