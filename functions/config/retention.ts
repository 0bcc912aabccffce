/**
 * How long the cost ledger and the audit trail are kept: the one default for the deployment (`lib/config.ts`,
 * `groupgate:*RetentionDays`) and for the functions' env (`functions/config/pipeline-config.ts`), so a function run
 * without the env var keeps records exactly as long as a deployed stack does. Days until DynamoDB TTL removes them.
 */

/** A cost ledger row (what `/cost` and the cost report read). */
export const DEFAULT_LEDGER_RETENTION_DAYS = 400;
/** An audit record (question, masked answer, filter decisions): one year. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;
/** Longest retention either accepts (ten years). */
export const MAX_RETENTION_DAYS = 3650;
