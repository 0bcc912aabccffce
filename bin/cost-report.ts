import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { runCostReport } from '../tools/cost-report/cli';

/**
 * `npm run cost-report -- --from 2026-11-01 --to 2026-11-30 --by group --format table` (see --help); with the
 * long-connection connector deployed, add the stack's `ConnectorCostReportArgs` output (`--connector-tasks 2
 * --connector-public-ipv4`) to include its fixed cost.
 */
runCostReport(process.argv.slice(2), {
  env: process.env,
  now: () => new Date(),
  documentClient: (region) => DynamoDBDocumentClient.from(new DynamoDBClient({ region })),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then((code) => {
  process.exitCode = code;
});
