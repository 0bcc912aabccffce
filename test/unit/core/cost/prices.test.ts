import { fromDecimal } from '#core/cost/exact';
import { BASE_REGION, PRICE_TABLE, PRICE_TABLE_VERSION, parsePriceOverrides, resolvePrices } from '#core/cost/prices';
import { ConfigError } from '#core/errors';

describe('price table', () => {
  it('is versioned and covers the required regions', () => {
    expect(PRICE_TABLE_VERSION).toMatch(/^\d{4}-\d{2}-\d{2}\.\d+$/);
    for (const region of ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-northeast-1', 'ap-southeast-1']) {
      expect(PRICE_TABLE[region]).toBeDefined();
    }
  });

  it('gives every number an exact decimal, an https source, the date read and a confidence', () => {
    for (const table of Object.values(PRICE_TABLE)) {
      const points = [
        ...Object.entries(table).flatMap(([key, v]) =>
          key === 'sagemakerInstanceHour' ? Object.values(v as object) : [v],
        ),
      ];
      for (const p of points) {
        expect(p.usd).toMatch(/^\d+(\.\d+)?$/);
        expect(p.source).toMatch(/^https:\/\//);
        expect(p.readOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        expect(['official', 'third-party', 'unconfirmed']).toContain(p.confidence);
      }
    }
  });

  it('has a complete base region, with g4dn.xlarge and 2xlarge and DynamoDB after the Nov 2024 cut', () => {
    const base = resolvePrices(BASE_REGION);
    expect(base.fallbacks.size).toBe(0);
    expect(base.sagemakerInstanceHour['ml.g4dn.xlarge']).toEqual(fromDecimal('0.7364'));
    expect(base.sagemakerInstanceHour['ml.g4dn.2xlarge']).toEqual(fromDecimal('0.94'));
    expect(base.scalar.dynamodbWritePerMillion).toEqual(fromDecimal('0.625'));
    expect(base.scalar.dynamodbReadPerMillion).toEqual(fromDecimal('0.125'));
  });

  it('falls back to us-east-1 price by price, and says so', () => {
    const singapore = resolvePrices('ap-southeast-1');
    expect(singapore.fallbacks.has('apiGatewayRestPerMillion')).toBe(true);
    expect(singapore.fallbacks.has('logsIngestionPerGb')).toBe(false);
    expect(singapore.scalar.logsIngestionPerGb).toEqual(fromDecimal('0.70'));
    expect(singapore.scalar.apiGatewayRestPerMillion).toEqual(fromDecimal('3.50'));
    expect(resolvePrices('me-south-1').fallbacks.size).toBe(11 + 6);
  });
});

describe('price overrides', () => {
  it('merges a partial override over the table', () => {
    const overrides = parsePriceOverrides({
      'eu-west-1': { logsIngestionPerGb: 0.6, sagemakerInstanceHour: { 'ml.g5.xlarge': '1.41' } },
    });
    const prices = resolvePrices('eu-west-1', overrides);
    expect(prices.scalar.logsIngestionPerGb).toEqual(fromDecimal('0.6'));
    expect(prices.sagemakerInstanceHour['ml.g5.xlarge']).toEqual(fromDecimal('1.41'));
    expect(prices.scalar.sqsFifoPerMillion).toEqual(fromDecimal('0.50'));
    expect([...prices.overridden].sort()).toEqual(['logsIngestionPerGb', 'sagemakerInstanceHour.ml.g5.xlarge']);
    expect(resolvePrices('us-west-2', overrides).overridden.size).toBe(0);
  });

  it('rejects bad overrides with every problem listed', () => {
    const attempt = () =>
      parsePriceOverrides({
        'us-east-1': { lambdaGbSecondX86: -1, dynamoWritePerMillion: '1' },
        'not-a-region': {},
        'eu-west-1': { sagemakerInstanceHour: { 'g4dn.xlarge': '0.8' }, sqsFifoPerMillion: '1e-3' },
      });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      const { problems } = err as ConfigError;
      expect(problems.join('\n')).toMatch(/lambdaGbSecondX86/);
      expect(problems.join('\n')).toMatch(/dynamoWritePerMillion/);
      expect(problems.join('\n')).toMatch(/not-a-region/);
      expect(problems.join('\n')).toMatch(/g4dn\.xlarge/);
      expect(problems.join('\n')).toMatch(/sqsFifoPerMillion/);
    }
  });

  it.each([null, 'x', 42, []])('rejects a non-object override %p', (input) => {
    expect(() => parsePriceOverrides(input)).toThrow(ConfigError);
  });
});
