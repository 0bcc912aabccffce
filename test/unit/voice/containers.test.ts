import { probeAudio } from '#voice/audio';
import { readOggInfo } from '#voice/ogg';
import { resample, toMono } from '#voice/resample';
import { VoiceError } from '#voice/voice-error';
import { parseWav, readWavInfo, writeWav } from '#voice/wav';
import { oggOpusFixture } from './ogg-fixture';

function tone(hz: number, rate: number, seconds: number): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(10_000 * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

function rms(samples: Int16Array, from = 0): number {
  let sum = 0;
  for (let i = from; i < samples.length; i++) sum += (samples[i] ?? 0) ** 2;
  return Math.sqrt(sum / (samples.length - from));
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    if (err instanceof VoiceError) return err.code;
    throw err;
  }
  return undefined;
}

describe('WAV', () => {
  it('round-trips 16-bit PCM and reads the duration from the header', () => {
    const samples = tone(440, 8000, 1.5);
    const bytes = writeWav({ sampleRate: 8000, channels: 1, samples });
    const info = readWavInfo(bytes);
    expect(info).toMatchObject({ sampleRate: 8000, channels: 1, bitsPerSample: 16, dataOffset: 44 });
    expect(info.durationSeconds).toBeCloseTo(1.5, 6);
    expect(parseWav(bytes).samples).toEqual(samples);
  });

  it('clamps a streamed header (data size 0x7ffffff0, as espeak-ng --stdout writes) to the bytes present', () => {
    const bytes = writeWav({ sampleRate: 22_050, channels: 1, samples: tone(200, 22_050, 0.5) });
    new DataView(bytes.buffer).setUint32(40, 0x7ffffff0, true);
    expect(readWavInfo(bytes).durationSeconds).toBeCloseTo(0.5, 3);
  });

  it('skips chunks before data and reads a WAVE_FORMAT_EXTENSIBLE PCM header', () => {
    const plain = writeWav({ sampleRate: 16_000, channels: 2, samples: new Int16Array(3200) });
    // fmt (40-byte extensible body) + a LIST chunk, then data.
    const fmt = new Uint8Array(48);
    const fv = new DataView(fmt.buffer);
    fmt.set([...'fmt '].map((c) => c.charCodeAt(0)));
    fv.setUint32(4, 40, true);
    fv.setUint16(8, 0xfffe, true);
    fv.setUint16(10, 2, true);
    fv.setUint32(12, 16_000, true);
    fv.setUint32(16, 64_000, true);
    fv.setUint16(20, 4, true);
    fv.setUint16(22, 16, true);
    fv.setUint16(32, 1, true); // sub-format GUID starts with 1 = PCM
    const list = new Uint8Array([...'LIST'].map((c) => c.charCodeAt(0)).concat([3, 0, 0, 0, 1, 2, 3, 0]));
    const bytes = new Uint8Array([...plain.subarray(0, 12), ...fmt, ...list, ...plain.subarray(36)]);
    const info = readWavInfo(bytes);
    expect(info).toMatchObject({ channels: 2, sampleRate: 16_000 });
    expect(info.durationSeconds).toBeCloseTo(0.1, 6);
  });

  it('rejects broken and unsupported files with typed errors', () => {
    const good = writeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(800) });
    expect(codeOf(() => readWavInfo(new TextEncoder().encode('hello, not audio')))).toBe('corrupt');
    expect(codeOf(() => readWavInfo(good.subarray(0, 30)))).toBe('corrupt');
    const eightBit = good.slice();
    new DataView(eightBit.buffer).setUint16(34, 8, true);
    expect(codeOf(() => readWavInfo(eightBit))).toBe('unsupported_codec');
    const float = good.slice();
    new DataView(float.buffer).setUint16(20, 3, true);
    expect(codeOf(() => readWavInfo(float))).toBe('unsupported_codec');
    const zeroRate = good.slice();
    new DataView(zeroRate.buffer).setUint32(24, 0, true);
    expect(codeOf(() => readWavInfo(zeroRate))).toBe('corrupt');
  });
});

describe('Ogg', () => {
  it('reads an Opus stream: codec, channels and (granule − pre-skip) / 48 kHz', () => {
    const info = readOggInfo(oggOpusFixture({ preSkip: 312, lastGranule: 312 + 48_000 * 3, channels: 1 }));
    expect(info).toEqual({ codec: 'opus', channels: 1, sampleRate: 48_000, durationSeconds: 3 });
  });

  it('rejects a page whose checksum does not match, a cut-short file and Speex', () => {
    const good = oggOpusFixture({ preSkip: 0, lastGranule: 48_000, channels: 2 });
    const flipped = good.slice();
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0xff;
    expect(codeOf(() => readOggInfo(flipped))).toBe('corrupt');
    expect(codeOf(() => readOggInfo(good.subarray(0, good.length - 3)))).toBe('corrupt');
    expect(
      codeOf(() => readOggInfo(oggOpusFixture({ preSkip: 0, lastGranule: 1, channels: 1, head: 'Speex   ' }))),
    ).toBe('unsupported_codec');
  });
});

describe('probeAudio', () => {
  const clip = (bytes: Uint8Array, mediaType = 'audio/ogg') => ({ bytes, mediaType });

  it('sniffs the bytes, not the claimed media type, and enforces the duration cap from the headers', () => {
    const wav = writeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(8000 * 61) });
    expect(probeAudio(clip(wav, 'audio/ogg'), 120)).toMatchObject({ container: 'wav', durationSeconds: 61 });
    expect(codeOf(() => probeAudio(clip(wav), 60))).toBe('too_long');
    const ogg = oggOpusFixture({ preSkip: 0, lastGranule: 48_000 * 90, channels: 1 });
    expect(codeOf(() => probeAudio(clip(ogg), 60))).toBe('too_long');
  });

  it('names formats it does not take and calls unknown bytes corrupt', () => {
    const mp3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 0, 0]);
    const amr = new TextEncoder().encode('#!AMR\n....');
    const m4a = new Uint8Array([0, 0, 0, 0x20, ...new TextEncoder().encode('ftypM4A ')]);
    for (const bytes of [mp3, amr, m4a]) expect(codeOf(() => probeAudio(clip(bytes), 60))).toBe('unsupported_codec');
    expect(() => probeAudio(clip(mp3), 60)).toThrow(/MP3 audio is not supported/);
    expect(codeOf(() => probeAudio(clip(new Uint8Array([1, 2, 3, 4, 5])), 60))).toBe('corrupt');
    expect(codeOf(() => probeAudio(clip(new Uint8Array()), 60))).toBe('corrupt');
  });
});

describe('resample', () => {
  it('keeps a tone in the pass band and its length, 22,050 → 16,000 Hz', () => {
    const input = { sampleRate: 22_050, channels: 1, samples: tone(1000, 22_050, 1) };
    const out = resample(input, 16_000);
    expect(out.sampleRate).toBe(16_000);
    expect(out.samples.length).toBe(16_000);
    // A full-scale 10,000 sine has RMS 7071; the pass band keeps it within 2 %.
    expect(rms(out.samples, 100)).toBeGreaterThan(7071 * 0.98);
    expect(rms(out.samples, 100)).toBeLessThan(7071 * 1.02);
  });

  it('removes content above the new Nyquist frequency instead of folding it into the speech band', () => {
    // 10 kHz is above 8 kHz: linear interpolation would alias it to 6 kHz at full strength.
    const out = resample({ sampleRate: 22_050, channels: 1, samples: tone(10_000, 22_050, 1) }, 16_000);
    expect(rms(out.samples, 100)).toBeLessThan(7071 * 0.05);
  });

  it('down-mixes stereo by averaging and refuses to resample interleaved audio', () => {
    const stereo = { sampleRate: 8000, channels: 2, samples: new Int16Array([100, 300, -50, 50]) };
    expect(toMono(stereo).samples).toEqual(new Int16Array([200, 0]));
    expect(() => resample(stereo, 16_000)).toThrow(RangeError);
  });
});
