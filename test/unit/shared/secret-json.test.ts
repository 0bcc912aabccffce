import { ConfigError } from '#core/errors';
import type { AwsJsonClient } from '#shared/aws-json-client';
import { secretJsonReader } from '#shared/secret-json';

const answering = (output: Record<string, unknown>) => {
  const calls: [string, object][] = [];
  const client: AwsJsonClient = {
    destroy: () => undefined,
    call: async (operation, input) => {
      calls.push([operation, input]);
      return output;
    },
  };
  return { client, calls };
};

describe('secretJsonReader', () => {
  it('reads the SecretString as JSON with one GetSecretValue', async () => {
    const { client, calls } = answering({ SecretString: '{"signingSecret":"s3cr3t"}' });
    expect(await secretJsonReader(() => client)('arn:aws:secretsmanager:…:secret:slack')).toEqual({
      signingSecret: 's3cr3t',
    });
    expect(calls).toEqual([['GetSecretValue', { SecretId: 'arn:aws:secretsmanager:…:secret:slack' }]]);
  });

  it('makes its client on the first read, once', async () => {
    const { client } = answering({ SecretString: '{}' });
    let made = 0;
    const read = secretJsonReader(() => {
      made++;
      return client;
    });
    expect(made).toBe(0);
    await read('a');
    await read('b');
    expect(made).toBe(1);
  });

  it('refuses a binary secret and a SecretString that is not JSON, without echoing it', async () => {
    await expect(secretJsonReader(() => answering({ SecretBinary: 'AAAA' }).client)('id')).rejects.toThrow(ConfigError);
    const notJson = secretJsonReader(() => answering({ SecretString: 'password=hunter2' }).client)('id');
    await expect(notJson).rejects.toThrow(ConfigError);
    await expect(notJson).rejects.not.toThrow(/hunter2/);
  });

  it('passes a service error through (the platform’s webhook answers 500 and is retried)', async () => {
    const failing: AwsJsonClient = {
      destroy: () => undefined,
      call: async () => {
        throw new Error('AccessDeniedException: not allowed');
      },
    };
    await expect(secretJsonReader(() => failing)('id')).rejects.toThrow('AccessDeniedException');
  });
});
