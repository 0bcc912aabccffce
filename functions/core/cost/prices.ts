import { ConfigError } from '#core/errors';
import * as z from '#shared/zod';
import { fromDecimal, type Ratio } from './exact';

/**
 * The one price table GroupGate's cost ledger is computed from. Every row written records this version, so a
 * row can always be re-explained. Bump it whenever a number below changes.
 */
export const PRICE_TABLE_VERSION = '2026-12-05.1';

/** The region every other region falls back to, price by price, when the table lacks a number. */
export const BASE_REGION = 'us-east-1';

/**
 * How far a number is confirmed: `official` = read on an AWS-owned page (aws.amazon.com / docs.aws.amazon.com);
 * `third-party` = several independent public write-ups agree but the official page text was not available to us;
 * `unconfirmed` = believed correct but not found in any source we could read: check before trusting it.
 */
export type PriceConfidence = 'official' | 'third-party' | 'unconfirmed';

export interface PricePoint {
  /** Exact decimal USD, kept as a string so no float ever touches it. */
  readonly usd: string;
  readonly unit: string;
  readonly source: string;
  /** ISO date the source was read. */
  readonly readOn: string;
  readonly confidence: PriceConfidence;
  readonly note?: string;
}

export interface RegionPriceTable {
  /** API Gateway REST API requests, first tier (first 333 million a month). */
  readonly apiGatewayRestPerMillion: PricePoint;
  readonly lambdaRequestPerMillion: PricePoint;
  /** On-demand duration, first tier, per GB-second where 1 GB = 1024 MB (as AWS's examples compute it). */
  readonly lambdaGbSecondArm64: PricePoint;
  readonly lambdaGbSecondX86: PricePoint;
  /** SQS FIFO requests, first tier; every 64 KB chunk of a payload is one request. */
  readonly sqsFifoPerMillion: PricePoint;
  /** DynamoDB on-demand, Standard table class, after the November 2024 on-demand price cut. */
  readonly dynamodbWritePerMillion: PricePoint;
  readonly dynamodbReadPerMillion: PricePoint;
  /** CloudWatch Logs ingestion, Standard log class. */
  readonly logsIngestionPerGb: PricePoint;
  /** SageMaker real-time inference (hosting), on-demand, per instance-hour. */
  readonly sagemakerInstanceHour: Readonly<Record<string, PricePoint>>;
  /**
   * Amazon Transcribe standard (batch and streaming), first tier (first 250,000 minutes a month); billed per second
   * with a 15-second minimum per request.
   */
  readonly transcribePerMinute: PricePoint;
  /** Amazon Polly, per million characters synthesised, by voice engine. */
  readonly pollyStandardPerMillionChars: PricePoint;
  readonly pollyNeuralPerMillionChars: PricePoint;
}

export type ScalarPriceKey = Exclude<keyof RegionPriceTable, 'sagemakerInstanceHour'>;

const READ_ON = '2026-11-25';
/** The voice prices (issue 20) were read later than the rest. */
const VOICE_READ_ON = '2026-12-05';

const SRC = {
  lambdaPage: 'https://aws.amazon.com/lambda/pricing/',
  lambdaRatesThirdParty: 'https://cloudchipr.com/blog/aws-lambda-pricing',
  lambdaRegions: 'https://app.unpkg.com/artillery@2.0.28/files/lib/platform/aws-lambda/prices.js',
  apiGatewayWhitepaper:
    'https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html',
  apiGatewayPage: 'https://aws.amazon.com/api-gateway/pricing/',
  sqsPage: 'https://aws.amazon.com/sqs/pricing/',
  sqsThirdParty: 'https://cloudburn.io/blog/amazon-sqs-pricing',
  dynamodbPage: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  dynamodbThirdParty: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
  dynamodbPreCut: 'https://engineering-ed7.pages.dev/docs/architecture/aws/services/dynamodb',
  cloudwatchPage: 'https://aws.amazon.com/cloudwatch/pricing/',
  cloudwatchThirdParty: 'https://hykell.com/knowledge-base/aws-cloudwatch-logs-pricing',
  sagemakerPage: 'https://aws.amazon.com/sagemaker/pricing/',
  sagemakerThirdParty: 'https://github.com/goerlitz/nlp-classification/blob/main/notebooks/10kGNAD/sagemaker/README.md',
  transcribePage: 'https://aws.amazon.com/transcribe/pricing/',
  transcribeThirdParty: 'https://blogv1-5yh.pages.dev/blog/aws-transcribe/',
  pollyPage: 'https://aws.amazon.com/polly/pricing/',
  pollyThirdParty: 'https://www.acecloudinterviews.com/tutorials/aws/polly/',
} as const;

function price(usd: string, unit: string, source: string, confidence: PriceConfidence, note?: string): PricePoint {
  return note === undefined
    ? { usd, unit, source, readOn: READ_ON, confidence }
    : { usd, unit, source, readOn: READ_ON, confidence, note };
}

const LAMBDA_SAME_AS_BASE =
  'Lambda lists only af-south-1, ap-east-1, eu-south-1, me-south-1 and me-central-1 as priced differently from us-east-1';

function lambdaPrices(confidence: PriceConfidence, note?: string) {
  const source = confidence === 'official' ? SRC.lambdaRatesThirdParty : SRC.lambdaRegions;
  return {
    lambdaRequestPerMillion: price('0.20', 'USD per million requests', SRC.lambdaPage, confidence, note),
    lambdaGbSecondArm64: price('0.0000133334', 'USD per GB-second (arm64)', source, 'third-party', note),
    lambdaGbSecondX86: price('0.0000166667', 'USD per GB-second (x86_64)', source, 'third-party', note),
  };
}

function g4dnPrices(confidence: PriceConfidence, note?: string): Record<string, PricePoint> {
  const hour = (usd: string) => price(usd, 'USD per instance-hour', SRC.sagemakerThirdParty, confidence, note);
  return {
    'ml.g4dn.xlarge': hour('0.7364'),
    'ml.g4dn.2xlarge': hour('0.94'),
    'ml.g4dn.4xlarge': hour('1.505'),
    'ml.g4dn.8xlarge': hour('2.72'),
    'ml.g4dn.12xlarge': hour('4.89'),
    'ml.g4dn.16xlarge': hour('5.44'),
  };
}

const US_EAST_1: RegionPriceTable = {
  apiGatewayRestPerMillion: price(
    '3.50',
    'USD per million REST API requests (first 333M/month)',
    SRC.apiGatewayWhitepaper,
    'official',
  ),
  ...lambdaPrices('official', 'request price official; GB-second rates from the tiered table, first tier'),
  sqsFifoPerMillion: price('0.50', 'USD per million FIFO requests', SRC.sqsThirdParty, 'third-party'),
  dynamodbWritePerMillion: price(
    '0.625',
    'USD per million write request units',
    SRC.dynamodbThirdParty,
    'third-party',
    'after the Nov 2024 50% on-demand cut (was 1.25)',
  ),
  dynamodbReadPerMillion: price(
    '0.125',
    'USD per million read request units',
    SRC.dynamodbThirdParty,
    'third-party',
    'after the Nov 2024 50% on-demand cut (was 0.25)',
  ),
  logsIngestionPerGb: price('0.50', 'USD per GB ingested', SRC.cloudwatchThirdParty, 'third-party'),
  sagemakerInstanceHour: g4dnPrices('third-party'),
  ...voicePrices(),
};

/**
 * ASR and TTS list prices. Read from public write-ups (the AWS pricing pages render their tables with scripts we
 * could not read): Transcribe T1 $0.024 a minute with a 15 s minimum per request; Polly $4 (standard) and $16
 * (neural) per million characters. Other regions fall back to these, flagged.
 */
function voicePrices(): Pick<
  RegionPriceTable,
  'transcribePerMinute' | 'pollyStandardPerMillionChars' | 'pollyNeuralPerMillionChars'
> {
  const voice = (usd: string, unit: string, source: string, note: string): PricePoint => ({
    usd,
    unit,
    source,
    readOn: VOICE_READ_ON,
    confidence: 'third-party',
    note,
  });
  return {
    transcribePerMinute: voice(
      '0.024',
      'USD per audio minute (T1), per second, 15 s minimum per request',
      SRC.transcribeThirdParty,
      `official table: ${SRC.transcribePage}`,
    ),
    pollyStandardPerMillionChars: voice(
      '4.00',
      'USD per million characters (standard voices)',
      SRC.pollyThirdParty,
      `official table: ${SRC.pollyPage}`,
    ),
    pollyNeuralPerMillionChars: voice(
      '16.00',
      'USD per million characters (neural voices)',
      SRC.pollyThirdParty,
      `official table: ${SRC.pollyPage}`,
    ),
  };
}

const SAME_AS_US_EAST_1 = 'believed equal to us-east-1; not read from a source';

/**
 * Per region, only the numbers we have; anything missing falls back to us-east-1 and is flagged on every cost
 * that used it. Non-US SageMaker GPU prices are deliberately absent rather than guessed: set them by override.
 */
export const PRICE_TABLE: Readonly<Record<string, Partial<RegionPriceTable>>> = {
  'us-east-1': US_EAST_1,
  'us-west-2': {
    apiGatewayRestPerMillion: price('3.50', 'USD per million REST API requests', SRC.apiGatewayPage, 'unconfirmed'),
    ...lambdaPrices('third-party', LAMBDA_SAME_AS_BASE),
    sqsFifoPerMillion: price('0.50', 'USD per million FIFO requests', SRC.sqsPage, 'unconfirmed', SAME_AS_US_EAST_1),
    dynamodbWritePerMillion: price('0.625', 'USD per million WRU', SRC.dynamodbPage, 'unconfirmed', SAME_AS_US_EAST_1),
    dynamodbReadPerMillion: price('0.125', 'USD per million RRU', SRC.dynamodbPage, 'unconfirmed', SAME_AS_US_EAST_1),
    logsIngestionPerGb: price('0.50', 'USD per GB ingested', SRC.cloudwatchPage, 'unconfirmed', SAME_AS_US_EAST_1),
    sagemakerInstanceHour: g4dnPrices('unconfirmed', SAME_AS_US_EAST_1),
  },
  'eu-west-1': {
    apiGatewayRestPerMillion: price('3.50', 'USD per million REST API requests', SRC.apiGatewayPage, 'unconfirmed'),
    ...lambdaPrices('third-party', LAMBDA_SAME_AS_BASE),
    sqsFifoPerMillion: price('0.50', 'USD per million FIFO requests', SRC.sqsPage, 'unconfirmed'),
    dynamodbWritePerMillion: price(
      '0.70675',
      'USD per million WRU',
      SRC.dynamodbPreCut,
      'unconfirmed',
      'pre-Nov-2024 1.4135 halved',
    ),
    dynamodbReadPerMillion: price(
      '0.1415',
      'USD per million RRU',
      SRC.dynamodbPreCut,
      'unconfirmed',
      'pre-Nov-2024 0.283 halved',
    ),
    logsIngestionPerGb: price('0.57', 'USD per GB ingested', SRC.cloudwatchPage, 'unconfirmed'),
  },
  'ap-northeast-1': {
    apiGatewayRestPerMillion: price('4.25', 'USD per million REST API requests', SRC.apiGatewayPage, 'unconfirmed'),
    ...lambdaPrices('third-party', LAMBDA_SAME_AS_BASE),
    sqsFifoPerMillion: price('0.50', 'USD per million FIFO requests', SRC.sqsPage, 'unconfirmed'),
    logsIngestionPerGb: price('0.76', 'USD per GB ingested', SRC.cloudwatchPage, 'unconfirmed'),
  },
  'ap-southeast-1': {
    ...lambdaPrices('third-party', LAMBDA_SAME_AS_BASE),
    sqsFifoPerMillion: price('0.50', 'USD per million FIFO requests', SRC.sqsPage, 'unconfirmed'),
    logsIngestionPerGb: price('0.70', 'USD per GB ingested', SRC.cloudwatchPage, 'unconfirmed'),
  },
};

const decimal = z.union([
  z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a non-negative decimal string such as "0.7364"')),
  z.number().check(z.nonnegative()),
]);

const regionOverrideSchema = z.strictObject({
  apiGatewayRestPerMillion: z.optional(decimal),
  lambdaRequestPerMillion: z.optional(decimal),
  lambdaGbSecondArm64: z.optional(decimal),
  lambdaGbSecondX86: z.optional(decimal),
  sqsFifoPerMillion: z.optional(decimal),
  dynamodbWritePerMillion: z.optional(decimal),
  dynamodbReadPerMillion: z.optional(decimal),
  logsIngestionPerGb: z.optional(decimal),
  sagemakerInstanceHour: z.optional(
    z.record(z.string().check(z.regex(/^ml\.[a-z0-9-]+\.[a-z0-9]+$/, 'not an ml.* type')), decimal),
  ),
  transcribePerMinute: z.optional(decimal),
  pollyStandardPerMillionChars: z.optional(decimal),
  pollyNeuralPerMillionChars: z.optional(decimal),
});

const overridesSchema = z.record(
  z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region code')),
  regionOverrideSchema,
);

/** Partial prices per region merged over the table, e.g. `{"eu-west-1":{"sagemakerInstanceHour":{"ml.g4dn.xlarge":"0.822"}}}`. */
export type PriceOverrides = z.infer<typeof overridesSchema>;

/** Validates a price override object (e.g. parsed from configuration JSON), reporting every problem at once. */
export function parsePriceOverrides(input: unknown): PriceOverrides {
  const result = overridesSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map(
      (issue) => `price override ${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`,
    ),
  );
}

/** The prices one cost computation uses: exact numbers plus where each came from. */
export interface ResolvedPrices {
  readonly version: string;
  readonly region: string;
  /** Exact USD per unit for each scalar price. */
  readonly scalar: Readonly<Record<ScalarPriceKey, Ratio>>;
  readonly sagemakerInstanceHour: Readonly<Record<string, Ratio>>;
  /** Price paths (`logsIngestionPerGb`, `sagemakerInstanceHour.ml.g4dn.xlarge`) taken from us-east-1 instead. */
  readonly fallbacks: ReadonlySet<string>;
  /** Price paths set by configuration rather than the table. */
  readonly overridden: ReadonlySet<string>;
}

const SCALAR_KEYS: readonly ScalarPriceKey[] = [
  'apiGatewayRestPerMillion',
  'lambdaRequestPerMillion',
  'lambdaGbSecondArm64',
  'lambdaGbSecondX86',
  'sqsFifoPerMillion',
  'dynamodbWritePerMillion',
  'dynamodbReadPerMillion',
  'logsIngestionPerGb',
  'transcribePerMinute',
  'pollyStandardPerMillionChars',
  'pollyNeuralPerMillionChars',
];

/**
 * Resolves every price for `region`: override, else the region's table entry, else us-east-1 (flagged).
 * `overrides` must come from `parsePriceOverrides`.
 */
export function resolvePrices(region: string, overrides: PriceOverrides = {}): ResolvedPrices {
  const table = PRICE_TABLE[region] ?? {};
  const override = overrides[region] ?? {};
  const fallbacks = new Set<string>();
  const overridden = new Set<string>();

  const scalar = {} as Record<ScalarPriceKey, Ratio>;
  for (const key of SCALAR_KEYS) {
    const configured = override[key];
    if (configured !== undefined) {
      overridden.add(key);
      scalar[key] = fromDecimal(configured);
      continue;
    }
    const own = table[key];
    if (own === undefined) fallbacks.add(key);
    scalar[key] = fromDecimal((own ?? US_EAST_1[key]).usd);
  }

  const sagemakerInstanceHour: Record<string, Ratio> = {};
  for (const [type, point] of Object.entries(US_EAST_1.sagemakerInstanceHour)) {
    sagemakerInstanceHour[type] = fromDecimal(point.usd);
    fallbacks.add(`sagemakerInstanceHour.${type}`);
  }
  for (const [type, point] of Object.entries(table.sagemakerInstanceHour ?? {})) {
    sagemakerInstanceHour[type] = fromDecimal(point.usd);
    fallbacks.delete(`sagemakerInstanceHour.${type}`);
  }
  for (const [type, usd] of Object.entries(override.sagemakerInstanceHour ?? {})) {
    sagemakerInstanceHour[type] = fromDecimal(usd);
    fallbacks.delete(`sagemakerInstanceHour.${type}`);
    overridden.add(`sagemakerInstanceHour.${type}`);
  }

  return { version: PRICE_TABLE_VERSION, region, scalar, sagemakerInstanceHour, fallbacks, overridden };
}
