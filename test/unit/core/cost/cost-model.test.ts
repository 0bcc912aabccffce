import { costOfInvocation, parseUsage } from '#core/cost/cost-model';
import { PRICE_TABLE_VERSION, resolvePrices } from '#core/cost/prices';
import { ConfigError, ValidationError } from '#core/errors';
import { usage } from './usage-fixture';

const COMPONENTS = ['apiGateway', 'lambda', 'sqs', 'dynamodb', 'logs', 'sagemaker', 'voice'] as const;

describe('costOfInvocation', () => {
  it('prices every component of a typical webhook → worker → SageMaker call', () => {
    const b = costOfInvocation(usage(), resolvePrices('us-east-1'));
    expect(b.componentsNanoUsd).toEqual({
      apiGateway: 3500, // 1 × $3.50/M
      lambda: 31_367, // 2 × $0.20/M + (0.5×0.045 + 1×2.3) GB-s × $0.0000133334 = 31,366.8 nano
      sqs: 1500, // 3 × $0.50/M
      dynamodb: 4188, // 3.5 × $0.125/M + 6 × $0.625/M = 4,187.5 nano
      logs: 5588, // 12,000 / 2^30 GB × $0.50 = 5,587.9 nano
      sagemaker: 378_428, // 1,850 ms × $0.7364/h = 378,427.8 nano
      voice: 0, // a text message
    });
    expect(b.components.apiGateway).toBe(0.0000035);
    expect(b.basis).toBe('marginal');
    expect(b.priceTableVersion).toBe(PRICE_TABLE_VERSION);
    expect(b.region).toBe('us-east-1');
    expect(b.priceFallbacks).toEqual([]);
    expect(b.quantities).toMatchObject({ lambdaRequests: 2, sqsBilledRequests: 3, apiGatewayRequests: 1 });
  });

  it('makes the total exactly the sum of its components, in nano-dollars and in USD', () => {
    const prices = resolvePrices('us-east-1');
    for (let i = 0; i < 200; i += 1) {
      const b = costOfInvocation(
        usage({
          apiGatewayRequests: i % 2,
          lambda: [{ fn: 'worker', memoryMb: 128 + i * 37, billedMs: i * 13 + 1, arch: i % 3 ? 'arm64' : 'x86_64' }],
          sqsPayloadBytes: i * 997,
          dynamodb: { readRequestUnits: (i % 7) * 0.5, writeRequestUnits: i % 5 },
          logBytes: i * 1234,
          sagemaker: i % 4 === 0 ? null : { instanceType: 'ml.g4dn.2xlarge', busyMs: i * 17.3 },
        }),
        prices,
      );
      const sum = COMPONENTS.reduce((acc, c) => acc + b.componentsNanoUsd[c], 0);
      expect(b.totalNanoUsd).toBe(sum);
      expect(b.totalUsd).toBe(sum / 1e9);
      for (const c of COMPONENTS) expect(b.components[c]).toBe(b.componentsNanoUsd[c] / 1e9);
    }
  });

  it('costs nothing for SageMaker on a cache hit, and nothing for API Gateway on SQS-only work', () => {
    const b = costOfInvocation(usage({ apiGatewayRequests: 0, sagemaker: null }), resolvePrices('us-east-1'));
    expect(b.componentsNanoUsd.sagemaker).toBe(0);
    expect(b.componentsNanoUsd.apiGateway).toBe(0);
    expect(b.quantities.sagemakerInstanceHours).toBe(0);
  });

  it('multiplies by the instances a call occupied', () => {
    const prices = resolvePrices('us-east-1');
    const one = costOfInvocation(usage({ sagemaker: { instanceType: 'ml.g4dn.xlarge', busyMs: 3_600_000 } }), prices);
    const two = costOfInvocation(
      usage({ sagemaker: { instanceType: 'ml.g4dn.xlarge', busyMs: 3_600_000, instanceCount: 2 } }),
      prices,
    );
    expect(one.componentsNanoUsd.sagemaker).toBe(736_400_000);
    expect(two.componentsNanoUsd.sagemaker).toBe(1_472_800_000);
  });

  it('flags only the prices it actually used that fell back to us-east-1', () => {
    const tokyo = costOfInvocation(usage(), resolvePrices('ap-northeast-1'));
    expect(tokyo.priceFallbacks).toEqual([
      'dynamodbReadPerMillion',
      'dynamodbWritePerMillion',
      'sagemakerInstanceHour.ml.g4dn.xlarge',
    ]);
    const noDynamo = costOfInvocation(
      usage({ dynamodb: { readRequestUnits: 0, writeRequestUnits: 0 }, sagemaker: null }),
      resolvePrices('ap-northeast-1'),
    );
    expect(noDynamo.priceFallbacks).toEqual([]);
    const unknownRegion = costOfInvocation(usage(), resolvePrices('sa-east-1'));
    expect(unknownRegion.region).toBe('sa-east-1');
    expect(unknownRegion.priceFallbacks).toHaveLength(8);
    expect(unknownRegion.totalNanoUsd).toBe(costOfInvocation(usage(), resolvePrices('us-east-1')).totalNanoUsd);
  });

  it('uses and reports configured overrides', () => {
    const prices = resolvePrices('eu-west-1', { 'eu-west-1': { sagemakerInstanceHour: { 'ml.g4dn.xlarge': '0.9' } } });
    const b = costOfInvocation(usage({ sagemaker: { instanceType: 'ml.g4dn.xlarge', busyMs: 3_600_000 } }), prices);
    expect(b.componentsNanoUsd.sagemaker).toBe(900_000_000);
    expect(b.priceOverrides).toEqual(['sagemakerInstanceHour.ml.g4dn.xlarge']);
    expect(b.priceFallbacks).not.toContain('sagemakerInstanceHour.ml.g4dn.xlarge');
  });

  it('refuses an instance type with no price rather than costing it $0', () => {
    const b = () =>
      costOfInvocation(
        usage({ sagemaker: { instanceType: 'ml.p5.48xlarge', busyMs: 10 } }),
        resolvePrices('us-east-1'),
      );
    expect(b).toThrow(ConfigError);
    expect(b).toThrow(/ml\.p5\.48xlarge/);
  });
});

describe('parseUsage', () => {
  it.each([
    [
      'negative billed time',
      { lambda: [{ fn: 'worker', memoryMb: 512, billedMs: -1, arch: 'arm64' }] },
      'lambda.0.billedMs',
    ],
    [
      'memory below Lambda minimum',
      { lambda: [{ fn: 'worker', memoryMb: 64, billedMs: 1, arch: 'arm64' }] },
      'memoryMb',
    ],
    ['unknown function', { lambda: [{ fn: 'cron', memoryMb: 512, billedMs: 1, arch: 'arm64' }] }, 'lambda.0.fn'],
    ['fractional SQS request count', { sqsRequests: { send: 1.5, receive: 1, delete: 1 } }, 'sqsRequests.send'],
    ['NaN capacity units', { dynamodb: { readRequestUnits: Number.NaN, writeRequestUnits: 1 } }, 'readRequestUnits'],
    ['negative log bytes', { logBytes: -10 }, 'logBytes'],
    ['negative busy time', { sagemaker: { instanceType: 'ml.g4dn.xlarge', busyMs: -1 } }, 'sagemaker.busyMs'],
    ['an unexpected field', { gpuMs: 5 }, 'gpuMs'],
  ])('rejects %s, naming the field', (_name, patch, field) => {
    const bad = { ...usage(), ...patch };
    expect(() => parseUsage(bad)).toThrow(ValidationError);
    expect(() => costOfInvocation(bad as never, resolvePrices('us-east-1'))).toThrow(field);
  });

  it('lists every problem at once', () => {
    expect(() => parseUsage({ ...usage(), logBytes: -1, apiGatewayRequests: 0.5 })).toThrow(
      /apiGatewayRequests.*logBytes|logBytes.*apiGatewayRequests/,
    );
  });
});
