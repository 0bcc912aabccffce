import { ConfigError } from '#core/errors';

/**
 * Construction-time checks shared by the embedders: a misconfigured embedder fails when it is built (at cold start),
 * with every problem named, rather than on the first document.
 */
export interface ConfigProblems {
  /** Records a problem unless `value` is an integer in [min, max]. */
  integer(name: string, value: number | undefined, min: number, max?: number): void;
  /** Records a problem unless `value` is a non-empty string. */
  text(name: string, value: string | undefined): void;
  /** Records `problem` as is (after the embedder's name). */
  add(problem: string): void;
  /** Throws `ConfigError` naming every recorded problem, prefixed with `what`; returns when there is none. */
  throwIfAny(): void;
}

export function configProblems(what: string): ConfigProblems {
  const problems: string[] = [];
  return {
    integer(name, value, min, max = Number.MAX_SAFE_INTEGER) {
      if (value === undefined) return;
      if (!Number.isInteger(value) || value < min || value > max) {
        problems.push(`${what} ${name} must be an integer from ${min} to ${max}, got ${value}`);
      }
    },
    text(name, value) {
      if (typeof value !== 'string' || value.trim() === '') problems.push(`${what} ${name} must be a non-empty string`);
    },
    add(problem) {
      problems.push(`${what} ${problem}`);
    },
    throwIfAny() {
      if (problems.length > 0) throw new ConfigError(problems);
    },
  };
}
