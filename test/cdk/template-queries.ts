import type { Template } from 'aws-cdk-lib/assertions';

/** Lookups over a synthesized template that several CDK tests share. */
export type Json = Record<string, unknown>;

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

export interface FunctionResource {
  Properties: Json & { Environment: { Variables: Record<string, unknown> }; Role: { 'Fn::GetAtt': [string] } };
}

/** The logical id and resource of the function whose Powertools service name is `service`. */
export function functionEntry(template: Template, service: string): [string, FunctionResource] {
  const fns = template.findResources('AWS::Lambda::Function') as Record<string, FunctionResource>;
  const found = Object.entries(fns).find(
    ([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === service,
  );
  if (!found) throw new Error(`no function ${service}`);
  return found;
}

/** Every statement of the identity policies attached to `fn`'s role. */
export function statementsOf(template: Template, fn: FunctionResource): Statement[] {
  const roleRef = fn.Properties.Role['Fn::GetAtt'][0];
  const policies = template.findResources('AWS::IAM::Policy') as Record<
    string,
    { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } }
  >;
  return Object.values(policies)
    .filter((p) => p.Properties.Roles.some((r) => r.Ref === roleRef))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
