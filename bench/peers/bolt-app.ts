import { App, AwsLambdaReceiver, LogLevel } from '@slack/bolt';

/**
 * The smallest Bolt app a team would put on Lambda instead of GroupGate's Slack webhook: an `AwsLambdaReceiver`
 * and an `app_mention` listener that does nothing (Bolt acknowledges Events API requests itself before listeners
 * run). Bench-only; the credentials are placeholders, and no Slack API is called: `botId`/`botUserId` are given and
 * token verification is off, so Bolt never runs `auth.test`.
 */
export interface BoltLambdaOptions {
  readonly signingSecret: string;
  readonly botToken: string;
  readonly botUserId: string;
  /** @default LogLevel.WARN, matching the level the GroupGate handler is benchmarked at */
  readonly logLevel?: LogLevel;
}

export type BoltAwsHandler = ReturnType<AwsLambdaReceiver['toHandler']>;

export interface BoltLambda {
  readonly handler: BoltAwsHandler;
  /** How many `app_mention` events reached the listener: proof a 200 was a handled event, not a no-match. */
  readonly mentions: () => number;
}

export function createBoltLambda(options: BoltLambdaOptions): BoltLambda {
  const logLevel = options.logLevel ?? LogLevel.WARN;
  const receiver = new AwsLambdaReceiver({ signingSecret: options.signingSecret, logLevel });
  const app = new App({
    receiver,
    token: options.botToken,
    botId: 'BBENCHBOT',
    botUserId: options.botUserId,
    tokenVerificationEnabled: false,
    logLevel,
  });
  let mentions = 0;
  app.event('app_mention', async () => {
    mentions++;
  });
  return { handler: receiver.toHandler(), mentions: () => mentions };
}
