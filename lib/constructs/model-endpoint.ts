import { Annotations, Aws, Duration, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import {
  AdjustmentType,
  MetricAggregationType,
  PredefinedMetric,
  ScalableTarget,
  Schedule,
  ServiceNamespace,
  StepScalingAction,
} from 'aws-cdk-lib/aws-applicationautoscaling';
import { Alarm, ComparisonOperator, Metric, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { ApplicationScalingAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnEndpoint, CfnEndpointConfig, CfnInferenceComponent, CfnModel } from 'aws-cdk-lib/aws-sagemaker';
import { Construct, type IConstruct } from 'constructs';
import { expandOpenDays, type ScaleToZeroSchedule } from '#core/cost/closed-hours';

/** AWS Deep Learning Containers registry (most commercial regions) and the LMI (DJL Serving + vLLM) image tag. */
export const LMI_IMAGE_ACCOUNT = '763104351884';
export const LMI_IMAGE_TAG = 'djl-inference:0.36.0-lmi20.0.0-cu128';
/** The LMI image in the stack's region, resolved at deploy time so the stack stays environment-agnostic. */
export const defaultLmiImageUri = (): string =>
  `${LMI_IMAGE_ACCOUNT}.dkr.ecr.${Aws.REGION}.${Aws.URL_SUFFIX}/${LMI_IMAGE_TAG}`;

const VARIANT_NAME = 'AllTraffic';
/** Where SageMaker mounts ModelDataSource files inside the container; LMI loads the model from there. */
const MODEL_MOUNT = '/opt/ml/model';

export interface ModelEndpointProps {
  /** `s3://bucket/prefix/` holding the INT8 checkpoint in Hugging Face layout (uncompressed files). */
  readonly modelS3Uri: string;
  /** @default defaultLmiImageUri() */
  readonly imageUri?: string;
  /** vLLM quantization method. @default unset: vLLM deduces it from the pre-quantized checkpoint's config.json */
  readonly quantization?: string;
  readonly maxModelLen: number;
  readonly instanceType: string;
  readonly minInstances: number;
  readonly maxInstances: number;
  /** Concurrent requests one instance serves (vLLM max batch size). */
  readonly maxConcurrentRequestsPerInstance: number;
  /** Target for SageMakerVariantInvocationsPerInstance (invocations per minute per instance). */
  readonly invocationsPerInstanceTarget: number;
  /** @default 1200 (20 minutes: an INT8 7B checkpoint is ~8 GB) */
  readonly modelDataDownloadTimeoutSeconds?: number;
  /** @default 1800 (vLLM compiles CUDA graphs and profiles memory before it reports healthy) */
  readonly containerStartupHealthCheckTimeoutSeconds?: number;
  /** @default no VPC: network isolation alone keeps the container off the network */
  readonly vpc?: { readonly subnetIds: readonly string[]; readonly securityGroupIds: readonly string[] };
  /**
   * Business hours outside which the endpoint may scale to zero. Set: the model runs as an inference component
   * (`minInstances` copies, one GPU each) on an endpoint whose instances managed instance scaling can take to zero.
   * @default none: an instance-based variant that never goes below `minInstances`
   */
  readonly scaleToZero?: ScaleToZeroSchedule;
}

/**
 * Memory one copy reserves on an instance. A scheduling reservation, not a cap (vLLM uses far more host memory):
 * SageMaker schedules copies against a pool well below the instance's RAM, and the smallest g4dn (16 GiB) refuses
 * reservations of a few GB, so a small figure fits every ml.g4dn size.
 */
const COPY_MIN_MEMORY_MB = 1024;

const DEFAULT_DOWNLOAD_TIMEOUT_SECONDS = 1200;
const DEFAULT_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS = 1800;

/** SageMaker's per-inference-component metrics (namespace AWS/SageMaker, dimension InferenceComponentName). */
function inferenceComponentMetric(name: string, inferenceComponentName: string): Metric {
  return new Metric({
    namespace: 'AWS/SageMaker',
    metricName: name,
    dimensionsMap: { InferenceComponentName: inferenceComponentName },
    statistic: Stats.SUM,
    period: Duration.minutes(1),
  });
}

/** Calls the endpoint refused because the component had no copy: SageMaker's `NoCapacityInvocationFailures`. */
export function noCapacityInvocationFailures(inferenceComponentName: string, period = Duration.minutes(1)): Metric {
  return inferenceComponentMetric('NoCapacityInvocationFailures', inferenceComponentName).with({ period });
}

/**
 * The warning a deployment with `scaleToZero` and no fallback model gets: in closed hours, members who write while the
 * endpoint wakes (several minutes) get the apology instead of an answer. The stack calls this with whether a
 * fallback model is configured; it adds a CDK warning (shown by `cdk synth`/`deploy`) and returns its text.
 */
export function warnScaleToZeroWithoutFallback(scope: IConstruct, hasFallback: boolean): string | undefined {
  if (hasFallback) return undefined;
  const text =
    'scaleToZero without a fallback model: after hours the endpoint sleeps, and members who write while it wakes ' +
    '(several minutes) get the apology instead of an answer. Configure a fallback model, or accept that.';
  Annotations.of(scope).addWarningV2('groupgate:scaleToZeroWithoutFallback', text);
  return text;
}

/** Splits `s3://bucket/prefix/` (validated by the app config) into its parts. */
function splitS3Uri(uri: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!match?.[1]) throw new Error(`not an S3 URI: ${uri}`);
  return { bucket: match[1], prefix: match[2] ?? '' };
}

/** The ECR repository ARN an image URI pulls from, or undefined for a registry that is not ECR. */
function ecrRepositoryArn(imageUri: string): string | undefined {
  const match = /^(\d{12})\.dkr\.ecr\.([^.]+)\.[^/]+\/([^:@]+)/.exec(imageUri);
  if (!match) return undefined;
  return `arn:${Aws.PARTITION}:ecr:${match[2]}:${match[1]}:repository/${match[3]}`;
}

/**
 * The private LLM: a SageMaker real-time endpoint running the LMI/vLLM container on ml.g4dn (T4, fp16 compute), with
 * the INT8 weights loaded uncompressed from a private S3 prefix, network isolation, and target-tracking autoscaling
 * on invocations per instance. The execution role can read only that prefix.
 */
export class ModelEndpoint extends Construct {
  readonly endpointName: string;
  readonly endpointArn: string;
  /** Set with `scaleToZero`: every invocation must name it (`InferenceComponentName`). */
  readonly inferenceComponentName?: string;
  readonly inferenceComponentArn?: string;
  /**
   * Set with `scaleToZero`: the longest SageMaker lets one copy take to start, the model download plus the container
   * start-up health check timeouts. A wake still refusing calls after it has failed, not slept.
   */
  readonly wakeBudget?: Duration;
  readonly role: Role;
  readonly scalableTarget: ScalableTarget;

  constructor(scope: Construct, id: string, props: ModelEndpointProps) {
    super(scope, id);
    const { bucket, prefix } = splitS3Uri(props.modelS3Uri);
    const imageUri = props.imageUri ?? defaultLmiImageUri();
    const downloadTimeoutSeconds = props.modelDataDownloadTimeoutSeconds ?? DEFAULT_DOWNLOAD_TIMEOUT_SECONDS;
    const startupTimeoutSeconds =
      props.containerStartupHealthCheckTimeoutSeconds ?? DEFAULT_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS;
    const stack = Stack.of(this);
    // The inference-component shape has a name of its own: CfnEndpoint's EndpointName is a replacement property, so
    // turning `scaleToZero` on or off replaces the endpoint instead of updating an instance-variant endpoint to an
    // inference-component configuration (or back) in place.
    this.endpointName = (props.scaleToZero ? `${stack.stackName}-llm-ic` : `${stack.stackName}-llm`).slice(0, 63);
    this.endpointArn = stack.formatArn({
      service: 'sagemaker',
      resource: 'endpoint',
      resourceName: this.endpointName.toLowerCase(),
    });

    const repositoryArn = props.imageUri
      ? ecrRepositoryArn(props.imageUri)
      : `arn:${Aws.PARTITION}:ecr:${Aws.REGION}:${LMI_IMAGE_ACCOUNT}:repository/${LMI_IMAGE_TAG.split(':')[0]}`;
    this.role = this.executionRole(bucket, prefix, repositoryArn, props.vpc !== undefined);

    const environment: Record<string, string> = {
      HF_MODEL_ID: MODEL_MOUNT,
      // T4 (sm_75) has no bf16: compute in fp16 around the 8-bit weights.
      OPTION_DTYPE: 'fp16',
      OPTION_MAX_MODEL_LEN: String(props.maxModelLen),
      OPTION_MAX_ROLLING_BATCH_SIZE: String(props.maxConcurrentRequestsPerInstance),
      TENSOR_PARALLEL_DEGREE: 'max',
      ...(props.quantization ? { OPTION_QUANTIZE: props.quantization } : {}),
    };

    const model = new CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      enableNetworkIsolation: true,
      primaryContainer: {
        image: imageUri,
        mode: 'SingleModel',
        environment,
        modelDataSource: {
          s3DataSource: { s3Uri: props.modelS3Uri, s3DataType: 'S3Prefix', compressionType: 'None' },
        },
      },
      vpcConfig: props.vpc
        ? { subnets: [...props.vpc.subnetIds], securityGroupIds: [...props.vpc.securityGroupIds] }
        : undefined,
    });
    model.node.addDependency(this.role);

    if (props.scaleToZero) {
      this.inferenceComponentName = `${stack.stackName}-llm-ic`.slice(0, 63);
      this.wakeBudget = Duration.seconds(downloadTimeoutSeconds + startupTimeoutSeconds);
      const { target, component } = this.scaleToZeroEndpoint(
        model,
        props,
        props.scaleToZero,
        this.inferenceComponentName,
      );
      this.scalableTarget = target;
      this.inferenceComponentArn = component.attrInferenceComponentArn;
      return;
    }

    const endpointConfig = new CfnEndpointConfig(this, 'EndpointConfig', {
      productionVariants: [
        {
          variantName: VARIANT_NAME,
          modelName: model.attrModelName,
          instanceType: props.instanceType,
          initialInstanceCount: props.minInstances,
          initialVariantWeight: 1,
          modelDataDownloadTimeoutInSeconds: downloadTimeoutSeconds,
          containerStartupHealthCheckTimeoutInSeconds: startupTimeoutSeconds,
          routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
        },
      ],
    });

    const endpoint = new CfnEndpoint(this, 'Endpoint', {
      endpointName: this.endpointName,
      endpointConfigName: endpointConfig.attrEndpointConfigName,
    });

    this.scalableTarget = new ScalableTarget(this, 'ScalableTarget', {
      serviceNamespace: ServiceNamespace.SAGEMAKER,
      scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      resourceId: `endpoint/${endpoint.attrEndpointName}/variant/${VARIANT_NAME}`,
      minCapacity: props.minInstances,
      maxCapacity: props.maxInstances,
    });
    this.scalableTarget.node.addDependency(endpoint);
    this.scalableTarget.scaleToTrackMetric('InvocationsPerInstance', {
      predefinedMetric: PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
      targetValue: props.invocationsPerInstanceTarget,
      // A new g4dn instance takes minutes to load the model: scale out promptly, scale in slowly.
      scaleOutCooldown: Duration.minutes(1),
      scaleInCooldown: Duration.minutes(10),
    });
  }

  /**
   * The scale-to-zero shape (docs/MODEL.md, "Scale to zero"). Only inference components can have zero copies, and
   * with managed instance scaling at MinInstanceCount 0 the instances follow them to zero. The copy count is the
   * scalable target (one copy = one GPU = one g4dn instance for the sizes with one GPU):
   * - target tracking on invocations per copy, as the instance-based shape does per instance; the target is
   *   registered with MinCapacity `minInstances` (see there why not 0);
   * - scheduled actions in the operator's time zone: at opening MinCapacity = minInstances (scales out), at closing
   *   MinCapacity 0;
   * - scale-in, to zero in closed hours, by the target-tracking policy alone, with `idleMinutes` as its scale-in
   *   cooldown. No idle alarm of our own: an alarm re-runs its policy every minute it stays in ALARM, and a refused
   *   call's datapoint arrives a minute or two late, so an idle alarm could set zero copies in the middle of a wake;
   * - the AWS-documented wake: an alarm on `NoCapacityInvocationFailures` ≥ 1 whose step policy sets one copy.
   *   ExactCapacity rather than +1: Application Auto Scaling re-runs an alarm's policy every minute it stays in
   *   ALARM, and a wake takes minutes, so +1 would keep adding copies until the first one answered.
   */
  private scaleToZeroEndpoint(
    model: CfnModel,
    props: ModelEndpointProps,
    schedule: ScaleToZeroSchedule,
    inferenceComponentName: string,
  ): { target: ScalableTarget; component: CfnInferenceComponent } {
    const endpointConfig = new CfnEndpointConfig(this, 'EndpointConfig', {
      // With inference components the execution role belongs to the endpoint configuration, and no variant names a
      // model: the component does.
      executionRoleArn: this.role.roleArn,
      productionVariants: [
        {
          variantName: VARIANT_NAME,
          instanceType: props.instanceType,
          initialInstanceCount: props.minInstances,
          managedInstanceScaling: { status: 'ENABLED', minInstanceCount: 0, maxInstanceCount: props.maxInstances },
          routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
        },
      ],
    });
    endpointConfig.node.addDependency(this.role);

    const endpoint = new CfnEndpoint(this, 'Endpoint', {
      endpointName: this.endpointName,
      endpointConfigName: endpointConfig.attrEndpointConfigName,
    });

    const component = new CfnInferenceComponent(this, 'InferenceComponent', {
      inferenceComponentName,
      endpointName: endpoint.attrEndpointName,
      variantName: VARIANT_NAME,
      specification: {
        modelName: model.attrModelName,
        computeResourceRequirements: {
          numberOfAcceleratorDevicesRequired: 1,
          minMemoryRequiredInMb: COPY_MIN_MEMORY_MB,
        },
        startupParameters: {
          modelDataDownloadTimeoutInSeconds: props.modelDataDownloadTimeoutSeconds ?? DEFAULT_DOWNLOAD_TIMEOUT_SECONDS,
          containerStartupHealthCheckTimeoutInSeconds:
            props.containerStartupHealthCheckTimeoutSeconds ?? DEFAULT_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS,
        },
      },
      runtimeConfig: { copyCount: props.minInstances },
    });

    const target = new ScalableTarget(this, 'ScalableTarget', {
      serviceNamespace: ServiceNamespace.SAGEMAKER,
      scalableDimension: 'sagemaker:inference-component:DesiredCopyCount',
      resourceId: `inference-component/${inferenceComponentName}`,
      // Not 0: CloudFormation applies MinCapacity on every create or update of the target, overriding the minimum the
      // scheduled actions set, so 0 here would let a deploy in business hours put the component to sleep mid-day.
      // With minInstances a deploy after hours keeps it awake until the next Close.
      minCapacity: props.minInstances,
      maxCapacity: props.maxInstances,
    });
    target.node.addDependency(component);
    target.scaleToTrackMetric('InvocationsPerCopy', {
      predefinedMetric: PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
      targetValue: props.invocationsPerInstanceTarget,
      scaleOutCooldown: Duration.minutes(1),
      // The only scale-in, to zero copies included once Close has set the minimum to 0 (AWS's procedure): after a
      // scaling activity, wait idleMinutes before removing a copy. Its own low-traffic alarm adds its evaluation
      // window on top (docs/MODEL.md §11).
      scaleInCooldown: Duration.minutes(schedule.idleMinutes),
    });

    const weekDay = expandOpenDays(schedule.openDays).join(',');
    const timeZone = TimeZone.of(schedule.timeZone);
    const at = (hhmm: string) => ({ hour: String(Number(hhmm.slice(0, 2))), minute: String(Number(hhmm.slice(3))) });
    target.scaleOnSchedule('Open', {
      schedule: Schedule.cron({ ...at(schedule.opensAt), weekDay }),
      timeZone,
      minCapacity: props.minInstances,
    });
    target.scaleOnSchedule('Close', {
      schedule: Schedule.cron({ ...at(schedule.closesAt), weekDay }),
      timeZone,
      minCapacity: 0,
    });

    const name = inferenceComponentName;
    const wake = new StepScalingAction(this, 'WakeOnRequest', {
      scalingTarget: target,
      adjustmentType: AdjustmentType.EXACT_CAPACITY,
      metricAggregationType: MetricAggregationType.MAXIMUM,
      cooldown: Duration.minutes(1),
    });
    wake.addAdjustment({ adjustment: 1, lowerBound: 0 });
    new Alarm(this, 'WakeAlarm', {
      alarmDescription:
        'A call found the inference component with no copy: start one (the fallback model answers meanwhile)',
      metric: noCapacityInvocationFailures(name),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(new ApplicationScalingAction(wake));
    return { target, component };
  }

  private executionRole(bucket: string, prefix: string, repositoryArn: string | undefined, inVpc: boolean): Role {
    const role = new Role(this, 'ExecutionRole', {
      assumedBy: new ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'GroupGate model endpoint: reads the model prefix, pulls the LMI image, writes endpoint logs',
    });
    const bucketArn = `arn:${Aws.PARTITION}:s3:::${bucket}`;
    role.addToPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [`${bucketArn}/${prefix}*`] }));
    role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
      }),
    );
    if (repositoryArn) {
      role.addToPolicy(
        new PolicyStatement({
          actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          resources: [repositoryArn],
        }),
      );
      role.addToPolicy(new PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    }
    const logGroup = `log-group:/aws/sagemaker/Endpoints/${this.endpointName}`;
    const logGroupArn = `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:${logGroup}`;
    role.addToPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogGroup', 'logs:DescribeLogStreams'],
        resources: [`${logGroupArn}:*`],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${logGroupArn}:log-stream:*`],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': '/aws/sagemaker/Endpoints' } },
      }),
    );
    if (inVpc) {
      role.addToPolicy(
        new PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:CreateNetworkInterfacePermission',
            'ec2:DeleteNetworkInterface',
            'ec2:DeleteNetworkInterfacePermission',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeVpcs',
            'ec2:DescribeDhcpOptions',
            'ec2:DescribeSubnets',
            'ec2:DescribeSecurityGroups',
          ],
          resources: ['*'],
        }),
      );
    }

    Validations.of(role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${bucket}/${prefix}*]`,
        reason:
          'The model weights are every object under the configured private prefix, and nothing else in the bucket.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:${logGroup}:*]`,
        reason: "Creating and describing the endpoint's own log group; CloudWatch Logs ARNs for log groups end in :*.",
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:${logGroup}:log-stream:*]`,
        reason:
          'SageMaker creates one log stream per instance with generated names, all inside the endpoint log group.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ecr:GetAuthorizationToken, cloudwatch:PutMetricData (limited by a namespace condition) and the VPC ENI actions SageMaker needs do not support resource-level permissions.',
      },
    );
    return role;
  }
}
