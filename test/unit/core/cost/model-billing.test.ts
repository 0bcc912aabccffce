import { costOfInvocation, parseUsage } from '#core/cost/cost-model';
import { lambdaUsageOf, sagemakerUsageOf } from '#core/cost/model-billing';
import { resolvePrices } from '#core/cost/prices';
import { usage } from './usage-fixture';

describe('sagemakerUsageOf: the ledger prices the model that answered', () => {
  it("a SageMaker-billed answer holds its own instance type for the call's latency", () => {
    const answer = { billing: { kind: 'sagemaker', instanceType: 'ml.g4dn.2xlarge' }, latencyMs: 1_850 } as const;
    expect(sagemakerUsageOf(answer)).toEqual({ instanceType: 'ml.g4dn.2xlarge', busyMs: 1_850 });
  });

  it('an answer from a model not billed by SageMaker time, or no answer at all, uses no endpoint time', () => {
    expect(sagemakerUsageOf({ billing: { kind: 'free' }, latencyMs: 900 })).toBeNull();
    expect(sagemakerUsageOf(undefined)).toBeNull();
  });

  it('what it returns is valid ledger usage', () => {
    const sagemaker = sagemakerUsageOf({
      billing: { kind: 'sagemaker', instanceType: 'ml.g4dn.xlarge' },
      latencyMs: 40,
    });
    expect(parseUsage(usage({ sagemaker })).sagemaker).toEqual(sagemaker);
  });
});

describe('lambdaUsageOf: a Lambda-hosted model (the fallback) is billed as GB-seconds of its function', () => {
  const FALLBACK = { kind: 'lambda', memoryMb: 3008, architecture: 'arm64' } as const;

  it('one invocation of the model function, its latency rounded up to whole milliseconds', () => {
    expect(lambdaUsageOf({ billing: FALLBACK, latencyMs: 4_199.2 })).toEqual([
      { fn: 'model', memoryMb: 3008, billedMs: 4_200, arch: 'arm64' },
    ]);
    // Lambda bills at least 1 ms.
    expect(lambdaUsageOf({ billing: FALLBACK, latencyMs: 0 })).toEqual([
      { fn: 'model', memoryMb: 3008, billedMs: 1, arch: 'arm64' },
    ]);
  });

  it('is never SageMaker time, and SageMaker or free answers, or none, add no Lambda line', () => {
    expect(sagemakerUsageOf({ billing: FALLBACK, latencyMs: 4_200 })).toBeNull();
    expect(lambdaUsageOf({ billing: { kind: 'sagemaker', instanceType: 'ml.g4dn.xlarge' }, latencyMs: 900 })).toEqual(
      [],
    );
    expect(lambdaUsageOf({ billing: { kind: 'free' }, latencyMs: 900 })).toEqual([]);
    expect(lambdaUsageOf(undefined)).toEqual([]);
  });

  it('prices exactly: 3,008 MB for 4,200 ms on arm64 is 164.701 µUSD (GB-seconds plus one request)', () => {
    const lambda = lambdaUsageOf({ billing: FALLBACK, latencyMs: 4_200 });
    const cost = costOfInvocation(usage({ lambda, sagemaker: null }), resolvePrices('us-east-1'));
    // 3008 MB × 4.2 s / 1024 = 12.3375 GB-s; × $0.0000133334 = $0.0001645008225; + $0.20 / 1e6 requests
    // = $0.0001647008225 → rounded half-up to whole nano-dollars: 164,701 n$.
    expect(cost.quantities.lambdaGbSeconds).toBe(12.3375);
    expect(cost.quantities.lambdaRequests).toBe(1);
    expect(cost.componentsNanoUsd.lambda).toBe(164_701);
    expect(cost.components.lambda).toBe(0.000164701);
    expect(cost.componentsNanoUsd.sagemaker).toBe(0);
    expect(cost.priceFallbacks).toEqual([]);
  });

  it('x86_64 functions are priced at the x86 rate', () => {
    const lambda = lambdaUsageOf({ billing: { ...FALLBACK, architecture: 'x86_64' }, latencyMs: 4_200 });
    const cost = costOfInvocation(usage({ lambda, sagemaker: null }), resolvePrices('us-east-1'));
    // 12.3375 GB-s × $0.0000166667 = $0.000205625411… (205,625.41 n$) + 200 n$ request → 205,825 n$.
    expect(cost.componentsNanoUsd.lambda).toBe(205_825);
  });
});
