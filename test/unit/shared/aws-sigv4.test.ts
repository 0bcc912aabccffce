import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { signRequest, uriEscape } from '#shared/aws-sigv4';

/** The example of AWS's Signature Version 4 documentation (IAM ListUsers), with its published signature. */
const DOC_EXAMPLE = {
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  date: new Date(Date.UTC(2015, 7, 30, 12, 36, 0)),
  signature: '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
};

describe('signRequest', () => {
  it('reproduces the signature published in the AWS documentation', () => {
    const headers = signRequest(
      {
        method: 'GET',
        host: 'iam.amazonaws.com',
        path: '/',
        query: { Action: 'ListUsers', Version: '2010-05-08' },
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: '',
      },
      { service: 'iam', region: 'us-east-1' },
      DOC_EXAMPLE.credentials,
      DOC_EXAMPLE.date,
    );
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
    expect(headers.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=${DOC_EXAMPLE.signature}`,
    );
  });

  it('changes the signature when any signed part changes', () => {
    const base = {
      method: 'POST',
      host: 'dynamodb.us-east-1.amazonaws.com',
      path: '/',
      headers: { 'x-amz-target': 'DynamoDB_20120810.PutItem' },
      body: '{"a":1}',
    };
    const sign = (request = base, region = 'us-east-1', date = DOC_EXAMPLE.date) =>
      signRequest(request, { service: 'dynamodb', region }, DOC_EXAMPLE.credentials, date).authorization;
    const signatures = new Set([
      sign(),
      sign({ ...base, body: '{"a":2}' }),
      sign({ ...base, headers: { 'x-amz-target': 'DynamoDB_20120810.DeleteItem' } }),
      sign({ ...base, host: 'dynamodb.eu-west-1.amazonaws.com' }),
      sign(base, 'eu-west-1'),
      sign(base, 'us-east-1', new Date(DOC_EXAMPLE.date.getTime() + 1000)),
    ]);
    expect(signatures.size).toBe(6);
  });

  it('signs the session token of temporary credentials (Lambda’s execution role)', () => {
    const headers = signRequest(
      { method: 'POST', host: 'sqs.us-east-1.amazonaws.com', path: '/', headers: {}, body: '{}' },
      { service: 'sqs', region: 'us-east-1' },
      { ...DOC_EXAMPLE.credentials, sessionToken: 'token/with+chars=' },
      DOC_EXAMPLE.date,
    );
    expect(headers['x-amz-security-token']).toBe('token/with+chars=');
    expect(headers.authorization).toContain('SignedHeaders=host;x-amz-date;x-amz-security-token,');
  });
});

describe('signRequest against the AWS SDK’s own signer', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret/key+example', sessionToken: 'session' };

  /** The request the SDK would send, captured before it leaves; the SDK is not told the network exists. */
  async function sdkRequest(
    makeClient: (handler: { handle: (request: unknown) => Promise<never> }) => {
      send: () => Promise<unknown>;
      destroy: () => void;
    },
  ) {
    let captured: { headers: Record<string, string>; body: string; path: string; hostname: string } | undefined;
    const client = makeClient({
      handle: async (request) => {
        captured = request as typeof captured;
        throw new Error('captured');
      },
    });
    await client.send().catch(() => undefined);
    client.destroy();
    if (!captured) throw new Error('the SDK sent nothing');
    return captured;
  }

  /** Signs the SDK's request with exactly the headers it signed, at its time, and compares the whole header. */
  function expectSameSignature(
    request: { headers: Record<string, string>; body: string; path: string; hostname: string },
    scope: { service: string; region: string },
  ) {
    const lower = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const signed = /SignedHeaders=([^,]+)/.exec(lower.authorization ?? '')?.[1]?.split(';') ?? [];
    const added = new Set(['host', 'x-amz-date', 'x-amz-security-token']);
    const headers = Object.fromEntries(signed.filter((h) => !added.has(h)).map((h) => [h, lower[h] ?? '']));
    const date = lower['x-amz-date'] ?? '';
    const when = new Date(
      `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
    );
    const ours = signRequest(
      { method: 'POST', host: request.hostname, path: request.path, headers, body: request.body },
      scope,
      credentials,
      when,
    );
    expect(signed.length).toBeGreaterThan(3);
    expect(ours.authorization).toBe(lower.authorization);
  }

  it('signs a DynamoDB PutItem exactly as the SDK does', async () => {
    const request = await sdkRequest((requestHandler) => {
      const client = new DynamoDBClient({ region: 'eu-central-1', credentials, requestHandler, maxAttempts: 1 });
      const command = new PutItemCommand({
        TableName: 'events',
        Item: { pk: { S: 'slack#Ev1 群 🙂' }, n: { N: '1' } },
      });
      return { send: () => client.send(command), destroy: () => client.destroy() };
    });
    expectSameSignature(request, { service: 'dynamodb', region: 'eu-central-1' });
  });

  it('signs an SQS SendMessage with non-ASCII text exactly as the SDK does', async () => {
    const request = await sdkRequest((requestHandler) => {
      const client = new SQSClient({ region: 'cn-north-1', credentials, requestHandler, maxAttempts: 1 });
      const command = new SendMessageCommand({
        QueueUrl: 'https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo',
        MessageBody: '你好，今天的值班是谁？🙂',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
      });
      return { send: () => client.send(command), destroy: () => client.destroy() };
    });
    expectSameSignature(request, { service: 'sqs', region: 'cn-north-1' });
  });
});

describe('uriEscape', () => {
  it('percent-encodes everything but RFC 3986 unreserved characters', () => {
    expect(uriEscape("a-b_c.d~e f!'()*/=+&群")).toBe('a-b_c.d~e%20f%21%27%28%29%2A%2F%3D%2B%26%E7%BE%A4');
  });
});
