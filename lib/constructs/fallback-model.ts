import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type FunctionUrl, FunctionUrlAuthType, InvokeMode } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FALLBACK_FUNCTION_ENV } from '#config/fallback-function-config';
import { FALLBACK_ENDPOINT_NAME } from '#config/pipeline-config';
import { LLAMA_ON_LAMBDA_ARM64 } from '../shipped-modules';
import { HouseFunction } from './house-function';

export interface FallbackModelProps {
  /** `s3://bucket/key.gguf`: the small instruct model the operator put in the private model bucket. */
  readonly weightsS3Uri: string;
  /** Function memory, MiB; Lambda gives one vCPU per 1,769 MiB, and llama.cpp uses them all. */
  readonly memoryMb: number;
  /** /tmp, MiB: room for the weights file. */
  readonly ephemeralStorageMb: number;
  /** Environments at once (reserved concurrency): one generation each. */
  readonly maxConcurrency: number;
  /** Tokens of one conversation the model sees (prompt + answer). */
  readonly contextSize: number;
  /** Answer tokens per call, at most. */
  readonly maxTokens: number;
  /** Longest one invocation may run, a cold start's download and load included. */
  readonly timeout: Duration;
  /**
   * Invoke it every five minutes with `{"warmUp": true}`, so an environment with the model loaded is waiting for the
   * first member the primary cannot serve (an outage, an endpoint scaled to zero and waking).
   */
  readonly keepWarm: boolean;
  readonly logRetention: RetentionDays;
  readonly logLevel: string;
}

/** Splits `s3://bucket/key` (validated by the app config). */
function splitObjectUri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match?.[1] || !match[2]) throw new Error(`not an S3 object URI: ${uri}`);
  return { bucket: match[1], key: match[2] };
}

/**
 * The fallback model (issue 16, offline mode): a CPU Lambda function on arm64 running node-llama-cpp with a small
 * GGUF model, serving the SageMaker runtime contract through a function URL, so the worker's fallback client talks to
 * it exactly as to the sandbox's second engine (`FALLBACK_MODEL_ENDPOINT_URL`, SigV4 for service `lambda`).
 * - Code: the esbuild bundle plus node-llama-cpp and its linux-arm64 prebuilt binaries, copied from node_modules into
 *   the zip (no Docker, offline synth; docs/MODEL.md compares this with a container image and EFS).
 * - Weights: read from S3 into /tmp at the first request of each environment; the role reads only that object.
 * - Function URL: AWS_IAM (only roles granted `lambda:InvokeFunctionUrl` call it) and RESPONSE_STREAM, so streamed
 *   answers arrive as the model writes them.
 * - A five-minute keep-warm schedule (`keepWarm`) holds one environment with the model loaded.
 * - Reserved concurrency caps what it can cost and what it can take from the account's other functions; calls over
 *   the cap are throttled (429), which the worker treats as the fallback being busy.
 */
export class FallbackModel extends Construct {
  readonly function: HouseFunction;
  readonly url: FunctionUrl;
  readonly alarms: { readonly throttles: Alarm; readonly errors: Alarm };
  readonly memoryMb: number;

  constructor(scope: Construct, id: string, props: FallbackModelProps) {
    super(scope, id);
    const { bucket, key } = splitObjectUri(props.weightsS3Uri);
    this.memoryMb = props.memoryMb;
    const env = FALLBACK_FUNCTION_ENV;
    this.function = new HouseFunction(this, 'Function', {
      handler: 'fallback-model',
      description: 'Backup model: a small GGUF on CPU (node-llama-cpp) answering when the SageMaker endpoint cannot',
      memorySize: props.memoryMb,
      timeout: props.timeout,
      ephemeralStorageMb: props.ephemeralStorageMb,
      reservedConcurrency: props.maxConcurrency,
      shipModules: LLAMA_ON_LAMBDA_ARM64,
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      environment: {
        [env.weightsS3Uri]: props.weightsS3Uri,
        [env.contextSize]: String(props.contextSize),
        [env.maxTokens]: String(props.maxTokens),
        [env.endpointName]: FALLBACK_ENDPOINT_NAME,
      },
    });
    this.function.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [`arn:${this.function.fn.stack.partition}:s3:::${bucket}/${key}`],
      }),
    );
    this.url = this.function.fn.addFunctionUrl({
      authType: FunctionUrlAuthType.AWS_IAM,
      invokeMode: InvokeMode.RESPONSE_STREAM,
    });

    const fn = this.function.fn;
    if (props.keepWarm) {
      // A warm environment waits about as long as Lambda keeps one idle; the call costs milliseconds unless the
      // environment was recycled, and then it pays the load a member would otherwise have waited for.
      new Rule(this, 'KeepWarm', {
        description: 'Keeps one fallback model environment loaded (the handler answers {"warmUp": true} with nothing)',
        schedule: Schedule.rate(Duration.minutes(5)),
        targets: [new LambdaFunction(fn, { event: RuleTargetInput.fromObject({ warmUp: true }), retryAttempts: 0 })],
      });
    }
    this.alarms = {
      // Every call over the concurrency cap is a member without a backup answer.
      throttles: new Alarm(this, 'ThrottlesAlarm', {
        alarmDescription: `The fallback model refused calls over its concurrency cap (${props.maxConcurrency}): members got the apology instead of a backup answer`,
        metric: fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      // A failed invocation: weights unreadable, out of memory or /tmp, a timeout.
      errors: new Alarm(this, 'ErrorsAlarm', {
        alarmDescription:
          'The fallback model function failed (weights unreadable, out of memory or /tmp, or timed out): see its log group',
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    };
  }

  /** Lets `grantee` call the function URL (the worker and the chat API, through the fallback client). */
  grantInvokeUrl(grantee: IGrantable): void {
    this.function.fn.grantInvokeUrl(grantee);
  }
}
