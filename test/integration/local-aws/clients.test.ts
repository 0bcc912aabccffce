import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import {
  createAwsClients,
  LOCAL_CREDENTIALS,
  type LocalServer,
  startDynalite,
  startFauxqs,
} from '../../../sandbox/local-aws/index';

// A developer's real AWS settings, made hostile: if the clients read any of them, a call below fails or a
// resolved setting differs.
const POISON_ENV = {
  AWS_CONFIG_FILE: '',
  AWS_SHARED_CREDENTIALS_FILE: '',
  AWS_PROFILE: 'poison',
  AWS_REGION: 'poison-region-1',
  AWS_ACCESS_KEY_ID: 'AKIAPOISON',
  AWS_SECRET_ACCESS_KEY: 'poison',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_USE_FIPS_ENDPOINT: 'true',
  AWS_MAX_ATTEMPTS: 'not-a-number',
};

describe('createAwsClients', () => {
  const saved: Record<string, string | undefined> = {};
  let dir: string;
  let dynamoServer: LocalServer;
  let sqsServer: LocalServer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'groupgate-aws-config-'));
    const config = path.join(dir, 'config');
    const credentials = path.join(dir, 'credentials');
    const profile = '[profile poison]\nregion = poison-region-2\nuse_fips_endpoint = true\nmax_attempts = 0\n';
    await writeFile(config, `${profile}[default]\nregion = poison-region-3\nendpoint_url = http://127.0.0.1:9\n`);
    await writeFile(credentials, '[poison]\naws_access_key_id = AKIAPOISON2\naws_secret_access_key = x\n');
    for (const [name, value] of Object.entries({
      ...POISON_ENV,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: credentials,
    })) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    [dynamoServer, sqsServer] = await Promise.all([startDynalite(), startFauxqs()]);
  });

  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await Promise.all([dynamoServer.stop(), sqsServer.stop(), rm(dir, { recursive: true, force: true })]);
  });

  it('uses only the given endpoints, region and dummy credentials, ignoring env and ~/.aws files', async () => {
    const clients = createAwsClients({
      dynamoEndpoint: dynamoServer.endpoint,
      sqsEndpoint: sqsServer.endpoint,
      region: 'eu-west-1',
    });
    try {
      for (const client of [clients.dynamo, clients.sqs]) {
        expect(await client.config.region()).toBe('eu-west-1');
        expect(await client.config.useFipsEndpoint()).toBe(false);
        expect(await client.config.maxAttempts()).toBe(3);
        expect(await client.config.credentials()).toMatchObject(LOCAL_CREDENTIALS);
      }
      await expect(clients.dynamo.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
      await expect(clients.sqs.send(new ListQueuesCommand({}))).resolves.toBeDefined();
    } finally {
      clients.destroy();
    }
  });

  it('defaults the region to us-east-1', async () => {
    const clients = createAwsClients({ dynamoEndpoint: dynamoServer.endpoint, sqsEndpoint: sqsServer.endpoint });
    expect(await clients.sqs.config.region()).toBe('us-east-1');
    clients.destroy();
  });
});
