import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The structured logger the connector writes to: a Powertools logger of its own (JSON lines, level from
 * `POWERTOOLS_LOG_LEVEL`, as every handler logs), so no Lambda context keys reach it where it shares a process with
 * the handlers (the sandbox); tests pass their own. Fields are data, never secrets: tokens, tickets and message texts
 * stay out.
 */
export interface ConnectorLogger {
  debug(message: string, fields?: Readonly<Record<string, unknown>>): void;
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

let powertoolsLogger: Logger | undefined;
/** Made on first use, so it reads `POWERTOOLS_LOG_LEVEL` as set by then (the sandbox sets it after importing this). */
const log = (): Logger => {
  powertoolsLogger ??= new Logger({ serviceName: 'groupgate-connector' });
  return powertoolsLogger;
};

export const defaultConnectorLogger: ConnectorLogger = {
  debug: (message, fields) => log().debug(message, { ...fields }),
  info: (message, fields) => log().info(message, { ...fields }),
  warn: (message, fields) => log().warn(message, { ...fields }),
  error: (message, fields) => log().error(message, { ...fields }),
};
