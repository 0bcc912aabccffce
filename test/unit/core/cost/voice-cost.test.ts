import { costOfInvocation } from '#core/cost/cost-model';
import { PRICE_TABLE, parsePriceOverrides, resolvePrices } from '#core/cost/prices';
import { ValidationError } from '#core/errors';
import { toReportRows } from '../../../../tools/cost-report/source';
import { makeLedger } from '../../cost-report/make-ledger';
import { usage } from './usage-fixture';

/** A voice message and a spoken answer, on top of the typical text invocation. */
const voiceUsage = (voice: NonNullable<ReturnType<typeof usage>['voice']>) => usage({ voice });

describe('voice in the ledger', () => {
  const prices = resolvePrices('us-east-1');

  it('bills Transcribe per second with its 15 s minimum, at $0.024 a minute', () => {
    const short = costOfInvocation(voiceUsage({ asr: { engine: 'transcribe', seconds: 4.2 } }), prices);
    // 15 s / 60 × $0.024 = $0.006
    expect(short.componentsNanoUsd.voice).toBe(6_000_000);
    expect(short.quantities.transcribeBilledSeconds).toBe(15);
    const long = costOfInvocation(voiceUsage({ asr: { engine: 'transcribe', seconds: 61.2 } }), prices);
    // 62 s / 60 × $0.024 = $0.0248
    expect(long.componentsNanoUsd.voice).toBe(24_800_000);
    expect(long.totalNanoUsd).toBe(Object.values(long.componentsNanoUsd).reduce((a, b) => a + b, 0));
  });

  it('bills Polly per character, neural at $16 and standard at $4 per million', () => {
    const neural = costOfInvocation(
      voiceUsage({ tts: { engine: 'polly', pollyEngine: 'neural', characters: 50 } }),
      prices,
    );
    expect(neural.componentsNanoUsd.voice).toBe(800_000);
    expect(neural.quantities.pollyCharacters).toBe(50);
    const standard = costOfInvocation(
      voiceUsage({ tts: { engine: 'polly', pollyEngine: 'standard', characters: 50 } }),
      prices,
    );
    expect(standard.componentsNanoUsd.voice).toBe(200_000);
    const both = costOfInvocation(
      voiceUsage({ asr: { engine: 'transcribe', seconds: 3 }, tts: { engine: 'polly', characters: 50 } }),
      prices,
    );
    expect(both.componentsNanoUsd.voice).toBe(6_800_000);
  });

  it('prices local engines and the Whisper endpoint at nothing, and names no voice price for them', () => {
    const local = costOfInvocation(
      voiceUsage({ asr: { engine: 'local', seconds: 20 }, tts: { engine: 'local', characters: 400 } }),
      resolvePrices('eu-west-1'),
    );
    expect(local.componentsNanoUsd.voice).toBe(0);
    expect(local.priceFallbacks.filter((p) => p.startsWith('transcribe') || p.startsWith('polly'))).toEqual([]);
    const whisper = costOfInvocation(voiceUsage({ asr: { engine: 'sagemaker-whisper', seconds: 20 } }), prices);
    expect(whisper.componentsNanoUsd.voice).toBe(0);
  });

  it('flags regions without their own voice prices and takes overrides', () => {
    const eu = costOfInvocation(voiceUsage({ asr: { engine: 'transcribe', seconds: 30 } }), resolvePrices('eu-west-1'));
    expect(eu.priceFallbacks).toContain('transcribePerMinute');
    const overridden = resolvePrices(
      'eu-west-1',
      parsePriceOverrides({ 'eu-west-1': { transcribePerMinute: '0.03' } }),
    );
    const priced = costOfInvocation(voiceUsage({ asr: { engine: 'transcribe', seconds: 30 } }), overridden);
    expect(priced.componentsNanoUsd.voice).toBe(15_000_000);
    expect(priced.priceOverrides).toContain('transcribePerMinute');
  });

  it('records where each voice price came from', () => {
    const base = PRICE_TABLE['us-east-1'];
    for (const key of ['transcribePerMinute', 'pollyStandardPerMillionChars', 'pollyNeuralPerMillionChars'] as const) {
      expect(base?.[key]).toMatchObject({ confidence: 'third-party', source: expect.stringMatching(/^https:\/\//) });
    }
  });

  it('refuses a measurement that would silently cost nothing', () => {
    expect(() => costOfInvocation(voiceUsage({ asr: { engine: 'transcribe', seconds: -1 } }), prices)).toThrow(
      ValidationError,
    );
    expect(() => costOfInvocation(usage({ voice: { tts: { engine: 'polly', characters: 1.5 } } }), prices)).toThrow(
      ValidationError,
    );
  });

  it('reads ledger rows written before voice was priced as costing nothing for voice', () => {
    const [row] = makeLedger({ invocations: 1, groups: 1, from: '2026-11-01', days: 1, seed: 1 });
    const { voice: _voice, ...older } = row?.componentsNanoUsd ?? {};
    const [parsed] = toReportRows([{ ...row, componentsNanoUsd: older }], {
      from: '2026-11-01',
      to: '2026-11-01',
      now: new Date('2026-11-02T00:00:00Z'),
    });
    expect(parsed?.componentsNanoUsd.voice).toBe(0);
  });
});
