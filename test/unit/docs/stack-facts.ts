import { type CfnElement, CfnOutput, CfnResource } from 'aws-cdk-lib';
import { Alarm, AnomalyDetectionAlarm, CfnDashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnModel } from 'aws-cdk-lib/aws-sagemaker';
import type { AppConfigInput } from '../../../lib/config';
import { buildStack } from '../../cdk/build-stack';

/**
 * What the stack really builds, for tests that hold the docs to it: the environment of every function and of the
 * model container, the outputs, the resources and the dashboard's widgets.
 */

/** Every optional setting switched on, so every variable the stack can set is set somewhere. */
export const EVERY_OPTION: Partial<AppConfigInput> = {
  modelQuantization: 'compressed-tensors',
  jwtJwksUrl: 'https://issuer.example.com/.well-known/jwks.json',
  systemPromptOverrides: { 'slack:C0DOCS': 'You answer questions about the docs.' },
  streaming: { enabled: true, optOutChats: ['slack:C0DOCS'] },
  dingtalkCardTemplateId: 'docs-template.schema',
  dingtalkCardContentKey: 'docsContent',
};

type Json = Record<string, unknown>;

export interface StackFacts {
  /** Variable name → its resolved value in each function (logical id) or the model container that has it. */
  readonly env: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Output logical ids. */
  readonly outputs: readonly string[];
  /** Resource logical ids with their CloudFormation type. */
  readonly resources: readonly { readonly id: string; readonly type: string }[];
  /** The dashboard body's widget titles. */
  readonly widgetTitles: readonly string[];
  /** The alarms' construct ids (`DeadLetters`, …): the names the runbook gives them. */
  readonly alarms: readonly string[];
}

/**
 * The facts of a GroupGate stack built with these settings, read from its constructs without a synth (a synth of the
 * whole stack costs seconds more each, and the probes below build a dozen stacks).
 */
export function stackFacts(overrides: Partial<AppConfigInput> = {}): StackFacts {
  const { stack } = buildStack(overrides);
  const constructs = stack.node.findAll();
  const logicalId = (element: CfnElement): string => stack.resolve(element.logicalId) as string;
  const env = new Map<string, Record<string, string>>();
  const add = (owner: string, variables: unknown) => {
    for (const [name, value] of Object.entries((variables ?? {}) as Json)) {
      env.set(name, { ...env.get(name), [owner]: JSON.stringify(value) });
    }
  };
  const widgetTitles: string[] = [];
  for (const c of constructs) {
    if (c instanceof CfnFunction) add(logicalId(c), (stack.resolve(c.environment) as Json | undefined)?.variables);
    if (c instanceof CfnModel) add(logicalId(c), (stack.resolve(c.primaryContainer) as Json | undefined)?.environment);
    if (c instanceof CfnDashboard) {
      const body = flattenJoin(stack.resolve(c.dashboardBody));
      widgetTitles.push(...[...body.matchAll(/"title":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`)));
    }
  }
  return {
    env,
    outputs: constructs.filter((c): c is CfnOutput => c instanceof CfnOutput).map(logicalId),
    resources: constructs
      .filter((c): c is CfnResource => c instanceof CfnResource)
      .map((r) => ({ id: logicalId(r), type: r.cfnResourceType })),
    widgetTitles,
    alarms: constructs.filter((c) => c instanceof Alarm || c instanceof AnomalyDetectionAlarm).map((c) => c.node.id),
  };
}

/** The literal text of a CloudFormation value built with Fn::Join; references become empty strings. */
function flattenJoin(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
  return join ? join[1].map(flattenJoin).join(join[0]) : '';
}

/** An environment variable's name as the guides write one: upper case with at least one underscore. */
export const ENV_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
