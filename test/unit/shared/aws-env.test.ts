import { ConfigError } from '#core/errors';
import { AWS_ENV, awsCredentials, awsEndpoint, awsRegion } from '#shared/aws-env';
import { DYNAMODB, SECRETS_MANAGER, SQS } from '#shared/aws-json-client';

describe('awsEndpoint', () => {
  it.each([
    ['us-east-1', DYNAMODB, 'https://dynamodb.us-east-1.amazonaws.com/'],
    ['ap-southeast-1', SQS, 'https://sqs.ap-southeast-1.amazonaws.com/'],
    ['cn-north-1', DYNAMODB, 'https://dynamodb.cn-north-1.amazonaws.com.cn/'],
    ['cn-northwest-1', SECRETS_MANAGER, 'https://secretsmanager.cn-northwest-1.amazonaws.com.cn/'],
    ['us-gov-west-1', SQS, 'https://sqs.us-gov-west-1.amazonaws.com/'],
    ['us-iso-east-1', SQS, 'https://sqs.us-iso-east-1.c2s.ic.gov/'],
    ['us-isob-east-1', DYNAMODB, 'https://dynamodb.us-isob-east-1.sc2s.sgov.gov/'],
  ])('is the regional endpoint of the partition in %s (%s)', (region, service, expected) => {
    expect(awsEndpoint(service, region, {}).href).toBe(expected);
  });

  it('takes the service’s own variable over the general one, as the SDKs do', () => {
    const env = { AWS_ENDPOINT_URL: 'http://all:1', AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:4566' };
    expect(awsEndpoint(SQS, 'us-east-1', env).href).toBe('http://127.0.0.1:4566/');
    expect(awsEndpoint(DYNAMODB, 'us-east-1', env).href).toBe('http://all:1/');
    expect(awsEndpoint(SECRETS_MANAGER, 'us-east-1', { AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://sm:2' }).href).toBe(
      'http://sm:2/',
    );
  });

  it('ignores configured endpoints when told to', () => {
    const env = { AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:4566', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' };
    expect(awsEndpoint(SQS, 'eu-west-1', env).href).toBe('https://sqs.eu-west-1.amazonaws.com/');
  });

  it('refuses an endpoint that is not an http(s) URL, naming the variable', () => {
    for (const value of ['not a url', 'ftp://host/']) {
      expect(() => awsEndpoint(SQS, 'us-east-1', { AWS_ENDPOINT_URL_SQS: value })).toThrow(
        new ConfigError(['AWS_ENDPOINT_URL_SQS: not an http(s) URL']),
      );
    }
  });

  it('refuses FIPS and dual-stack settings it cannot honour instead of ignoring them', () => {
    const env = { AWS_USE_FIPS_ENDPOINT: 'true', AWS_USE_DUALSTACK_ENDPOINT: 'TRUE' };
    const error = (() => {
      try {
        awsEndpoint(DYNAMODB, 'us-east-1', env);
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^AWS_USE_FIPS_ENDPOINT: not supported/),
      expect.stringMatching(/^AWS_USE_DUALSTACK_ENDPOINT: not supported/),
    ]);
    expect(awsEndpoint(DYNAMODB, 'us-east-1', { AWS_USE_FIPS_ENDPOINT: 'false' }).hostname).toBe(
      'dynamodb.us-east-1.amazonaws.com',
    );
  });
});

describe('awsCredentials', () => {
  it('reads Lambda’s credential variables, the session token when there is one', () => {
    expect(awsCredentials({ AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' })).toEqual({
      accessKeyId: 'AKID',
      secretAccessKey: 's',
      sessionToken: 't',
    });
    expect(awsCredentials({ AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 's' })).toEqual({
      accessKeyId: 'AKID',
      secretAccessKey: 's',
    });
  });

  it('names every missing variable and never a value', () => {
    expect(() => awsCredentials({})).toThrow(ConfigError);
    try {
      awsCredentials({ AWS_ACCESS_KEY_ID: 'AKIDSECRETLOOKING' });
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([expect.stringMatching(/^AWS_SECRET_ACCESS_KEY: not set/)]);
      expect((err as Error).message).not.toContain('AKIDSECRETLOOKING');
    }
    expect.assertions(3);
  });
});

describe('awsRegion', () => {
  it('is AWS_REGION, us-east-1 when unset or empty', () => {
    expect(awsRegion({ [AWS_ENV.region]: 'cn-north-1' })).toBe('cn-north-1');
    expect(awsRegion({ [AWS_ENV.region]: '' })).toBe('us-east-1');
    expect(awsRegion({})).toBe('us-east-1');
  });
});
