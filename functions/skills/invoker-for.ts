import { ENV } from '#config/env-names';
import type { SkillsConfig } from '#config/skills-config';
import { ConfigError } from '#core/errors';
import { SkillInvokeError, type SkillInvoker } from '#core/skills/remote-skill';
import { AWS_ENV, awsCredentials, awsRegion } from '#shared/aws-env';
import { createHttpSkillInvoker } from './http-invoker';
import { createLambdaSkillInvoker } from './lambda-invoker';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The one `SkillInvoker` of a deployment's remote skills: a skill with `functionArn` is invoked through Lambda, one
 * with `url` (sandbox and tests) over HTTP; an unknown skill name is `not_found`. The Lambda client talks to
 * `LAMBDA_ENDPOINT_URL` when set (the local stand-in, `sandbox/local-aws/lambda-invoke.ts`), else to the regional
 * endpoint of each ARN's region. Credentials are the execution role's from `env` (`AWS_ACCESS_KEY_ID`, …, which
 * Lambda sets and the SDK's own `fromEnv` would read), so an explicit `env` is honoured; absent there, the SDK's
 * default chain.
 * Nothing is loaded or connected until the first call. Throws `ConfigError` if `LAMBDA_ENDPOINT_URL` is not an
 * http(s) URL.
 */
export function skillInvokerFor(config: SkillsConfig, env: Env = process.env): SkillInvoker {
  const functions = new Map<string, string>();
  const urls = new Map<string, string>();
  for (const skill of config.remote) {
    if (skill.functionArn !== undefined) functions.set(skill.name, skill.functionArn);
    else if (skill.url !== undefined) urls.set(skill.name, skill.url);
  }
  const endpoint = lambdaEndpoint(env);
  const lambda =
    functions.size === 0
      ? undefined
      : createLambdaSkillInvoker({
          region: awsRegion(env),
          ...(endpoint === undefined ? {} : { endpoint }),
          ...(env[AWS_ENV.accessKeyId] && env[AWS_ENV.secretAccessKey] ? { credentials: awsCredentials(env) } : {}),
          functionArnOf: (name) => functions.get(name),
        });
  const http = urls.size === 0 ? undefined : createHttpSkillInvoker({ urlOf: (name) => urls.get(name) });
  return async (request, timeoutMs) => {
    if (lambda !== undefined && functions.has(request.skill)) return lambda(request, timeoutMs);
    if (http !== undefined && urls.has(request.skill)) return http(request, timeoutMs);
    throw new SkillInvokeError('not_found', `no remote skill named ${request.skill}`);
  };
}

function lambdaEndpoint(env: Env): string | undefined {
  const value = env[ENV.lambdaEndpointUrl];
  if (!value) return undefined;
  const protocol = URL.canParse(value) ? new URL(value).protocol : undefined;
  if (protocol !== 'http:' && protocol !== 'https:')
    throw new ConfigError([`${ENV.lambdaEndpointUrl}: not an http(s) URL`]);
  return value;
}
