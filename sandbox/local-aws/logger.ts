/** The narrow logger the local stand-ins write to; Powertools' Logger and `console` both fit it. */
export interface LocalAwsLogger {
  debug(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

const ignore = (): void => {};

/** Default when the caller passes no logger: the stand-ins stay quiet in tests. */
export const silentLogger: LocalAwsLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
