import { ConfigError, ValidationError } from '#core/errors';
import * as z from '#shared/zod';
import { add, fromDecimal, mul, nanoToUsd, type Ratio, ratio, sum, toNano, toNumber, ZERO } from './exact';
import type { ResolvedPrices, ScalarPriceKey } from './prices';

/** SQS bills every 64 KB (65,536-byte) chunk of a payload as one request. */
export const SQS_CHUNK_BYTES = 65_536;
/** CloudWatch Logs GB, as AWS meters data: 2^30 bytes. */
export const BYTES_PER_GB = 1_073_741_824;

export const COST_COMPONENTS = ['apiGateway', 'lambda', 'sqs', 'dynamodb', 'logs', 'sagemaker', 'voice'] as const;
export type CostComponent = (typeof COST_COMPONENTS)[number];

const count = z.int().check(z.nonnegative());
const amount = z.number().check(z.nonnegative());

const usageSchema = z.strictObject({
  /** 1 for the webhook / REST paths (one API Gateway request), 0 for work reached only through SQS. */
  apiGatewayRequests: count,
  /**
   * Every Lambda invocation this call caused; `billedMs` is the REPORT line's "Billed Duration" (1 ms steps). `model`
   * is the answering model's own function (a fallback model on Lambda: `lambdaUsageOf` in model-billing.ts).
   */
  lambda: z.array(
    z.strictObject({
      fn: z.enum(['webhook', 'worker', 'chat-api', 'authorizer', 'model']),
      memoryMb: z.int().check(z.gte(128), z.lte(10_240)),
      billedMs: count,
      arch: z.enum(['arm64', 'x86_64']),
    }),
  ),
  /** Size of this call's queue message body plus attributes. */
  sqsPayloadBytes: count,
  /**
   * SQS API calls made for this call's message. Send and receive carry the payload, so each bills
   * ceil(payload / 64 KB) requests (at least 1); delete carries none and bills 1.
   */
  sqsRequests: z.strictObject({ send: count, receive: count, delete: count }),
  /** Summed `ConsumedCapacity.CapacityUnits` (ReturnConsumedCapacity=TOTAL); on-demand RRU/WRU equal consumed RCU/WCU. */
  dynamodb: z.strictObject({ readRequestUnits: amount, writeRequestUnits: amount }),
  /** Bytes this call wrote to CloudWatch Logs (all functions). */
  logBytes: count,
  /** Null when no model call was made (answer cache hit, filtered, ...). */
  sagemaker: z.nullable(
    z.strictObject({
      instanceType: z.string().check(z.minLength(1)),
      /** Endpoint time attributed to this call (model latency). */
      busyMs: amount,
      /** Instances the call occupied at once. @default 1 */
      instanceCount: z.optional(z.int().check(z.positive())),
    }),
  ),
  tokens: z.strictObject({ prompt: count, completion: count }),
  /**
   * Speech recognition of the member's voice message and synthesis of the answer (docs/VOICE.md); absent for text.
   * Local engines (the sandbox) and a Whisper endpoint are recorded but cost nothing here: the Whisper endpoint's
   * instances are a fixed cost, like the model endpoint's idle time.
   */
  voice: z.optional(
    z.strictObject({
      asr: z.optional(
        z.strictObject({ engine: z.enum(['local', 'transcribe', 'sagemaker-whisper']), seconds: amount }),
      ),
      tts: z.optional(
        z.strictObject({
          engine: z.enum(['local', 'polly']),
          /** Polly's voice engine, which sets the price per character. */
          pollyEngine: z.optional(z.enum(['standard', 'neural'])),
          characters: count,
        }),
      ),
    }),
  ),
});

/** What one model invocation (one platform event or REST call) consumed, as measured by the pipeline. */
export type InvocationUsage = z.infer<typeof usageSchema>;
export type LambdaInvocation = InvocationUsage['lambda'][number];

/** Throws `ValidationError` naming every bad field, so a bad measurement never silently costs $0. */
export function parseUsage(input: unknown): InvocationUsage {
  const result = usageSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  throw new ValidationError(`Invalid invocation usage: ${problems.join('; ')}`);
}

function perMillion(quantity: Ratio, priceUsd: Ratio): Ratio {
  return ratio(quantity.n * priceUsd.n, quantity.d * priceUsd.d * 1_000_000n);
}

function whole(value: number): Ratio {
  return ratio(BigInt(value));
}

/** GB-seconds of one invocation, with GB = 1024 MB as in AWS's Lambda pricing examples. */
export function lambdaGbSeconds(memoryMb: number, billedMs: number): Ratio {
  return ratio(BigInt(memoryMb) * BigInt(billedMs), 1024n * 1000n);
}

/** Exact request and duration charge of one Lambda invocation (no free tier: that is an account-level credit). */
export function lambdaInvocationCost(
  inv: LambdaInvocation,
  prices: ResolvedPrices,
): { request: Ratio; duration: Ratio } {
  const gbSecond = inv.arch === 'arm64' ? prices.scalar.lambdaGbSecondArm64 : prices.scalar.lambdaGbSecondX86;
  return {
    request: perMillion(ratio(1n), prices.scalar.lambdaRequestPerMillion),
    duration: mul(lambdaGbSeconds(inv.memoryMb, inv.billedMs), gbSecond),
  };
}

/** Billed SQS requests under the 64 KB chunk rule. */
export function sqsBilledRequests(payloadBytes: number, requests: InvocationUsage['sqsRequests']): number {
  const chunks = Math.max(1, Math.ceil(payloadBytes / SQS_CHUNK_BYTES));
  return (requests.send + requests.receive) * chunks + requests.delete;
}

/** Transcribe bills each request per second, at least 15 seconds. */
export const TRANSCRIBE_MINIMUM_SECONDS = 15;

function transcribeBilledSeconds(usage: InvocationUsage): number {
  const asr = usage.voice?.asr;
  if (asr?.engine !== 'transcribe') return 0;
  return Math.max(TRANSCRIBE_MINIMUM_SECONDS, Math.ceil(asr.seconds));
}

function pollyCharacters(usage: InvocationUsage): { standard: number; neural: number } {
  const tts = usage.voice?.tts;
  if (tts?.engine !== 'polly') return { standard: 0, neural: 0 };
  return tts.pollyEngine === 'standard'
    ? { standard: tts.characters, neural: 0 }
    : { standard: 0, neural: tts.characters };
}

function voiceCost(usage: InvocationUsage, prices: ResolvedPrices): Ratio {
  const polly = pollyCharacters(usage);
  return sum([
    mul(ratio(BigInt(transcribeBilledSeconds(usage)), 60n), prices.scalar.transcribePerMinute),
    perMillion(whole(polly.standard), prices.scalar.pollyStandardPerMillionChars),
    perMillion(whole(polly.neural), prices.scalar.pollyNeuralPerMillionChars),
  ]);
}

function sagemakerInstanceHours(usage: InvocationUsage): Ratio {
  if (!usage.sagemaker) return ZERO;
  const { busyMs, instanceCount = 1 } = usage.sagemaker;
  return mul(mul(fromDecimal(busyMs), whole(instanceCount)), ratio(1n, 3_600_000n));
}

function sagemakerHourlyPrice(usage: InvocationUsage, prices: ResolvedPrices): Ratio {
  if (!usage.sagemaker) return ZERO;
  const hourly = prices.sagemakerInstanceHour[usage.sagemaker.instanceType];
  if (!hourly) {
    throw new ConfigError([
      `no price for SageMaker instance type ${usage.sagemaker.instanceType} in ${prices.region}: add it to the price overrides`,
    ]);
  }
  return hourly;
}

/** Exact USD per component, before any rounding. */
export function exactComponentCosts(usage: InvocationUsage, prices: ResolvedPrices): Record<CostComponent, Ratio> {
  const { scalar } = prices;
  const lambda = sum(
    usage.lambda.map((inv) => {
      const { request, duration } = lambdaInvocationCost(inv, prices);
      return add(request, duration);
    }),
  );
  return {
    apiGateway: perMillion(whole(usage.apiGatewayRequests), scalar.apiGatewayRestPerMillion),
    lambda,
    sqs: perMillion(whole(sqsBilledRequests(usage.sqsPayloadBytes, usage.sqsRequests)), scalar.sqsFifoPerMillion),
    dynamodb: add(
      perMillion(fromDecimal(usage.dynamodb.readRequestUnits), scalar.dynamodbReadPerMillion),
      perMillion(fromDecimal(usage.dynamodb.writeRequestUnits), scalar.dynamodbWritePerMillion),
    ),
    logs: mul(ratio(BigInt(usage.logBytes), BigInt(BYTES_PER_GB)), scalar.logsIngestionPerGb),
    sagemaker: mul(sagemakerInstanceHours(usage), sagemakerHourlyPrice(usage, prices)),
    voice: voiceCost(usage, prices),
  };
}

export type ComponentAmounts = Readonly<Record<CostComponent, number>>;

/**
 * The marginal cost of one invocation, as stored in the ledger. Rounding rule: each component is computed
 * exactly and rounded once, half-up, to whole nano-dollars (1e-9 USD); the total is the integer sum of the
 * component nano-dollars, so `totalNanoUsd === Σ componentsNanoUsd` always. The USD numbers are those integers
 * divided by 1e9. Per-invocation error is at most 0.5 nano-dollar per component.
 */
export interface CostBreakdown {
  /**
   * `marginal`: what this call added. The endpoint's idle instance time is not in here; the cost report adds it
   * with `amortiseIdleEndpointCost` once the hour is over (`sagemakerAmortisedUsd`, `totalAmortisedUsd`).
   */
  readonly basis: 'marginal';
  readonly priceTableVersion: string;
  readonly region: string;
  /** Prices this computation took from us-east-1 because the region had none. Empty when all were regional. */
  readonly priceFallbacks: readonly string[];
  /** Prices this computation took from configuration overrides instead of the table. */
  readonly priceOverrides: readonly string[];
  /** The billed quantities the components were priced from (for explanation; numbers are display values). */
  readonly quantities: {
    readonly apiGatewayRequests: number;
    readonly lambdaRequests: number;
    readonly lambdaGbSeconds: number;
    readonly sqsBilledRequests: number;
    readonly dynamodbReadRequestUnits: number;
    readonly dynamodbWriteRequestUnits: number;
    readonly logGb: number;
    readonly sagemakerInstanceHours: number;
    /** Seconds of audio Transcribe bills (15 s minimum per request); 0 for other engines. */
    readonly transcribeBilledSeconds: number;
    /** Characters Polly synthesised. */
    readonly pollyCharacters: number;
  };
  /** USD per component (`componentsNanoUsd / 1e9`). */
  readonly components: ComponentAmounts;
  readonly componentsNanoUsd: ComponentAmounts;
  readonly totalUsd: number;
  readonly totalNanoUsd: number;
}

function usedPricePaths(usage: InvocationUsage): Set<string> {
  const used = new Set<string>();
  const mark = (key: ScalarPriceKey, when: boolean) => when && used.add(key);
  mark('apiGatewayRestPerMillion', usage.apiGatewayRequests > 0);
  mark('lambdaRequestPerMillion', usage.lambda.length > 0);
  mark(
    'lambdaGbSecondArm64',
    usage.lambda.some((l) => l.arch === 'arm64'),
  );
  mark(
    'lambdaGbSecondX86',
    usage.lambda.some((l) => l.arch === 'x86_64'),
  );
  const { send, receive, delete: del } = usage.sqsRequests;
  mark('sqsFifoPerMillion', send + receive + del > 0);
  mark('dynamodbReadPerMillion', usage.dynamodb.readRequestUnits > 0);
  mark('dynamodbWritePerMillion', usage.dynamodb.writeRequestUnits > 0);
  mark('logsIngestionPerGb', usage.logBytes > 0);
  if (usage.sagemaker) used.add(`sagemakerInstanceHour.${usage.sagemaker.instanceType}`);
  mark('transcribePerMinute', transcribeBilledSeconds(usage) > 0);
  const polly = pollyCharacters(usage);
  mark('pollyStandardPerMillionChars', polly.standard > 0);
  mark('pollyNeuralPerMillionChars', polly.neural > 0);
  return used;
}

function mapComponents(f: (c: CostComponent) => number): ComponentAmounts {
  return Object.fromEntries(COST_COMPONENTS.map((c) => [c, f(c)])) as Record<CostComponent, number>;
}

/** Prices one invocation. `usage` is validated here (see `parseUsage`); prices come from `resolvePrices`. */
export function costOfInvocation(usage: InvocationUsage, prices: ResolvedPrices): CostBreakdown {
  const valid = parseUsage(usage);
  const exact = exactComponentCosts(valid, prices);
  const nano = Object.fromEntries(COST_COMPONENTS.map((c) => [c, toNano(exact[c])])) as Record<CostComponent, bigint>;
  const totalNano = COST_COMPONENTS.reduce((acc, c) => acc + nano[c], 0n);
  const used = usedPricePaths(valid);
  const gbSeconds = sum(valid.lambda.map((l) => lambdaGbSeconds(l.memoryMb, l.billedMs)));

  return {
    basis: 'marginal',
    priceTableVersion: prices.version,
    region: prices.region,
    priceFallbacks: [...prices.fallbacks].filter((p) => used.has(p)).sort(),
    priceOverrides: [...prices.overridden].filter((p) => used.has(p)).sort(),
    quantities: {
      apiGatewayRequests: valid.apiGatewayRequests,
      lambdaRequests: valid.lambda.length,
      lambdaGbSeconds: toNumber(gbSeconds),
      sqsBilledRequests: sqsBilledRequests(valid.sqsPayloadBytes, valid.sqsRequests),
      dynamodbReadRequestUnits: valid.dynamodb.readRequestUnits,
      dynamodbWriteRequestUnits: valid.dynamodb.writeRequestUnits,
      logGb: valid.logBytes / BYTES_PER_GB,
      sagemakerInstanceHours: toNumber(sagemakerInstanceHours(valid)),
      transcribeBilledSeconds: transcribeBilledSeconds(valid),
      pollyCharacters: valid.voice?.tts?.engine === 'polly' ? valid.voice.tts.characters : 0,
    },
    components: mapComponents((c) => nanoToUsd(nano[c])),
    componentsNanoUsd: mapComponents((c) => Number(nano[c])),
    totalUsd: nanoToUsd(totalNano),
    totalNanoUsd: Number(totalNano),
  };
}
