import { EventEmitter } from 'node:events';
import { DEFAULT_HEALTH_PORT, loadConnectorConfig } from '#connector/connector-config';
import type { ConnectorLogger } from '#connector/connector-logger';
import { runConnector, stopOnSignals } from '#connector/connector-process';
import { ConfigError } from '#core/errors';
import { recordingLogger } from '../../helpers/socket-emulator-server';

/** The environment the stack gives the connector's task (lib/constructs/connector.ts), credentials from the task role. */
const TASK_ENV = {
  LONG_CONNECTION_PLATFORMS: 'slack,dingtalk',
  ENABLED_PLATFORMS: 'slack,dingtalk',
  QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/groupgate-work.fifo',
  EVENTS_TABLE: 'GroupGate-Events',
  SLACK_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbC123',
  DINGTALK_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:dingtalk-AbC123',
  AWS_REGION: 'us-east-1',
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/task-role',
};

function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadConnectorConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConnectorConfig', () => {
  it('reads the task environment: platforms, the health port default, the ingest settings', () => {
    const config = loadConnectorConfig(TASK_ENV);
    expect(config.platforms).toEqual(['slack', 'dingtalk']);
    expect(config.healthPort).toBe(DEFAULT_HEALTH_PORT);
    expect(config.ingest).toMatchObject({ queueUrl: TASK_ENV.QUEUE_URL, eventsTable: 'GroupGate-Events' });
  });

  it('takes HEALTH_PORT, and repeats of a platform once', () => {
    const config = loadConnectorConfig({ ...TASK_ENV, LONG_CONNECTION_PLATFORMS: 'slack, slack', HEALTH_PORT: '9090' });
    expect(config.platforms).toEqual(['slack']);
    expect(config.healthPort).toBe(9090);
  });

  it('names every problem at once, each by its variable', () => {
    const problems = problemsOf({
      LONG_CONNECTION_PLATFORMS: 'slack,teams',
      ENABLED_PLATFORMS: 'dingtalk',
      HEALTH_PORT: '80a',
      AWS_REGION: 'us-east-1',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^LONG_CONNECTION_PLATFORMS.*"teams" has no long-connection client/),
      expect.stringMatching(/^HEALTH_PORT: /),
      expect.stringMatching(/^QUEUE_URL: /),
      expect.stringMatching(/^EVENTS_TABLE: /),
      expect.stringMatching(/^AWS_ACCESS_KEY_ID: not set/),
      expect.stringMatching(/^AWS_SECRET_ACCESS_KEY: not set/),
    ]);
  });

  it('refuses a platform missing from ENABLED_PLATFORMS, and one without a credential source', () => {
    const { SLACK_SECRET_ID: _unset, ...env } = TASK_ENV;
    const problems = problemsOf({ ...env, ENABLED_PLATFORMS: 'slack' });
    expect(problems).toEqual([
      expect.stringMatching(/^SLACK_SECRET_ID: not set .*SLACK_APP_TOKEN/),
      'LONG_CONNECTION_PLATFORMS: dingtalk is not in ENABLED_PLATFORMS (slack); the ingest path would refuse its events',
    ]);
  });

  it("refuses WeCom without the relay queue its replies go through, or without its credentials' source", () => {
    const problems = problemsOf({
      ...TASK_ENV,
      LONG_CONNECTION_PLATFORMS: 'slack,wecom',
      ENABLED_PLATFORMS: 'slack,wecom',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^WECOM_SECRET_ID: not set .*WECOM_BOT_SECRET/),
      expect.stringMatching(/^WECOM_RELAY_QUEUE_URL: not set \(WeCom's long connection also carries the replies/),
    ]);
    const config = loadConnectorConfig({
      ...TASK_ENV,
      LONG_CONNECTION_PLATFORMS: 'slack,wecom',
      ENABLED_PLATFORMS: 'slack,wecom',
      WECOM_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:wecom-AbC123',
      WECOM_RELAY_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/relay.fifo',
    });
    expect(config.platforms).toEqual(['slack', 'wecom']);
  });

  it('refuses an empty platform list', () => {
    expect(problemsOf({ ...TASK_ENV, LONG_CONNECTION_PLATFORMS: ' , ' })).toEqual([
      'LONG_CONNECTION_PLATFORMS: names no platform',
    ]);
  });

  it('accepts local credentials from env instead of a secret (the sandbox, tests)', () => {
    const {
      SLACK_SECRET_ID: _s,
      DINGTALK_SECRET_ID: _d,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: _c,
      ...env
    } = TASK_ENV;
    const config = loadConnectorConfig({
      ...env,
      SLACK_APP_TOKEN: 'xapp-1-test',
      DINGTALK_APP_KEY: 'key',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    expect(config.platforms).toEqual(['slack', 'dingtalk']);
  });
});

describe('stopOnSignals (the ECS stop)', () => {
  const logger = recordingLogger().logger as ConnectorLogger;

  it('stops once on SIGTERM, then exits 0', async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    let stops = 0;
    let finish: () => void = () => undefined;
    const stop = () =>
      new Promise<void>((resolve) => {
        stops += 1;
        finish = resolve;
      });
    stopOnSignals({ stop }, target, (c) => exits.push(c), logger);
    target.emit('SIGTERM');
    target.emit('SIGINT');
    expect(stops).toBe(1);
    expect(exits).toEqual([]);
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    expect(exits).toEqual([0]);
  });

  it('exits 1 when the stop fails', async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    stopOnSignals({ stop: () => Promise.reject(new Error('socket stuck')) }, target, (c) => exits.push(c), logger);
    target.emit('SIGINT');
    await new Promise((resolve) => setImmediate(resolve));
    expect(exits).toEqual([1]);
  });

  it('removes its handlers when asked', () => {
    const target = new EventEmitter();
    const off = stopOnSignals({ stop: async () => undefined }, target, () => undefined, logger);
    expect(target.listenerCount('SIGTERM')).toBe(1);
    off();
    expect(target.listenerCount('SIGTERM') + target.listenerCount('SIGINT')).toBe(0);
  });
});

describe('runConnector', () => {
  it('exits 1 on a bad environment, logging every problem, and installs no signal handler', async () => {
    const { lines, logger } = recordingLogger();
    const target = new EventEmitter();
    const exits: number[] = [];
    const running = await runConnector({}, target, (c) => exits.push(c), { logger: logger as ConnectorLogger });
    expect(running).toBeUndefined();
    expect(exits).toEqual([1]);
    const logged = lines.find((l) => l.message === 'connector: invalid configuration');
    expect(logged?.fields.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^LONG_CONNECTION_PLATFORMS/)]),
    );
    expect(target.listenerCount('SIGTERM')).toBe(0);
  });
});
