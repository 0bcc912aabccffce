import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '#config/env-names';
import { PLATFORM_MANIFESTS } from '#platforms/manifests';
import type { PlatformName } from '#platforms/types';
import { OPEN_SURFACES_INDEX } from '#stores/event-record';
import { platformApiEnv } from './functions';
import { HouseFunction } from './house-function';

export interface StreamSweeperProps {
  readonly platforms: readonly PlatformName[];
  readonly eventsTable: ITable;
  readonly platformSecrets: Readonly<Partial<Record<PlatformName, ISecret>>>;
  /** The worker's DingTalk AI-card settings: the sweeper resumes the same cards. */
  readonly dingtalkCardTemplateId?: string;
  readonly dingtalkCardContentKey?: string;
  /** The worker's Feishu/Lark origin: the sweeper settles the cards the worker opened there. */
  readonly feishuApiBaseUrl: string;
  readonly logRetention: RetentionDays;
  readonly logLevel: string;
}

/** Short enough that one run ends before the next starts; a run stops claiming with 15 s left. */
const SWEEPER_TIMEOUT = Duration.seconds(40);

/**
 * The stream sweeper (`functions/handlers/stream-sweeper.ts`): every minute it finishes the streamed replies no
 * delivery finished, with the interrupted-answer note. Its role may only
 * - Query the events table's `openSurfaces` index (not the table),
 * - UpdateItem events (claim, mark swept),
 * - read the enabled platforms' secrets, as the worker does, to reach their surfaces.
 * (WeCom's snapshot writes are not granted: sweeps come long after WeCom's 6-minute polling window, when the WeCom
 * session answers on `response_url` instead; a snapshot write refused meanwhile falls back to it the same way.)
 */
export class StreamSweeper extends Construct {
  readonly sweeper: HouseFunction;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: StreamSweeperProps) {
    super(scope, id);
    this.sweeper = new HouseFunction(this, 'Function', {
      handler: 'stream-sweeper',
      description: 'Finishes streamed replies no delivery finished',
      timeout: SWEEPER_TIMEOUT,
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      environment: {
        [ENV.enabledPlatforms]: props.platforms.join(','),
        // The sweeper's lease on an event: its timeout plus a margin, so a surface it failed on is due next minute.
        [ENV.claimLeaseSeconds]: String(SWEEPER_TIMEOUT.toSeconds() + 15),
        ...(props.dingtalkCardTemplateId ? { [ENV.dingtalkCardTemplateId]: props.dingtalkCardTemplateId } : {}),
        ...(props.dingtalkCardContentKey ? { [ENV.dingtalkCardContentKey]: props.dingtalkCardContentKey } : {}),
        ...platformApiEnv(props),
      },
    });
    this.sweeper.bindTable(props.eventsTable, ENV.eventsTable, ['UpdateItem']);
    this.sweeper.role.addToPolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${props.eventsTable.tableArn}/index/${OPEN_SURFACES_INDEX}`],
      }),
    );
    for (const platform of props.platforms) {
      const secret = props.platformSecrets[platform];
      if (secret) this.sweeper.bindSecret(secret, PLATFORM_MANIFESTS[platform].credentials.secretIdEnv);
    }
    // No async retries: the next scheduled run is the retry, and two runs at once would only contend for leases.
    this.sweeper.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Runs the stream sweeper every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.sweeper.fn, { retryAttempts: 0 })],
    });
  }
}
