import { Logger } from '@aws-lambda-powertools/logger';

/** Observability singletons, one per cold start. Service name and level come from POWERTOOLS_* env vars. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'groupgate' });
