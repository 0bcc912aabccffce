import { parseUsage } from '#core/cost/cost-model';
import { sagemakerUsageOf } from '#core/cost/model-billing';
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
